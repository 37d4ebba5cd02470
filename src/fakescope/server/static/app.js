// fakescope pages: upload with progress, follow a scan's stages, delete. No libraries, no network but this server.
"use strict";

function $(id) { return document.getElementById(id); }

let STAGES = {};  // stage -> words for people; the server's page carries them (data-stages)

function showProgress(stage, fraction) {
  $("progress").hidden = false;
  $("stage").textContent = stage;
  const pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  $("percent").textContent = pct + "%";
  $("bar").style.width = pct + "%";
}

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = false;
}

async function errorMessage(response) {
  try { return (await response.json()).error || response.statusText; } catch (e) { return response.statusText; }
}

function upload(file) {
  $("error").hidden = true;
  const form = new FormData();
  form.append("file", file);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/scans");
  xhr.responseType = "json";
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) showProgress("Uploading " + file.name, e.loaded / e.total); };
  xhr.onload = () => {
    const body = xhr.response || {};
    if (xhr.status === 202) {
      showProgress(STAGES.queued, 0);
      window.location.assign(body.links.page);
    } else {
      $("progress").hidden = true;
      showError(body.error || ("upload failed (HTTP " + xhr.status + ")"));
    }
  };
  xhr.onerror = () => { $("progress").hidden = true; showError("upload failed: the server could not be reached"); };
  showProgress("Uploading " + file.name, 0);
  xhr.send(form);
}

function setUpUpload(form) {
  const input = $("file");
  input.addEventListener("change", () => { if (input.files.length) upload(input.files[0]); });
  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("over");
    if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
  });
}

async function follow(scanId) {
  let delay = 400;
  for (;;) {
    let response;
    try {
      response = await fetch("/api/scans/" + scanId, { headers: { Accept: "application/json" } });
    } catch (e) {
      showError("lost contact with the server; retrying");
      await new Promise((r) => setTimeout(r, 2000));
      continue;
    }
    if (!response.ok) { showError(await errorMessage(response)); return; }
    const scan = await response.json();
    $("error").hidden = true;
    if (scan.status === "done" || scan.status === "failed") { window.location.reload(); return; }
    showProgress(STAGES[scan.stage] || scan.stage || STAGES.queued, scan.progress);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(1000, delay + 100);
  }
}

function setUpDelete(button, scanId) {
  button.addEventListener("click", async () => {
    if (!window.confirm("Delete this scan and its result?")) return;
    const response = await fetch("/api/scans/" + scanId, { method: "DELETE" });
    if (response.ok || response.status === 404) window.location.assign("/scans");
    else window.alert(await errorMessage(response));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  STAGES = JSON.parse(document.body.dataset.stages || "{}");
  const form = $("upload");
  if (form) setUpUpload(form);
  const { scanId, status } = document.body.dataset;
  if (scanId && (status === "queued" || status === "running")) follow(scanId);
  if (scanId && $("delete")) setUpDelete($("delete"), scanId);
});
