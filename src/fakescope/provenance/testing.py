"""Content Credentials to test with: a throwaway ES256 CA and signer, and signing through c2pa.Builder.

For the test suite and the benchmark (and anyone who wants to see `fakescope inspect` at work on a signed
file): nothing here is trusted anywhere, and the keys live only as long as the object. Needs the
`cryptography` package (in the dev extra).

    >>> signer = make_signer()
    >>> signed = signer.sign(jpeg_bytes, "image/jpeg", manifest([created(AI_GENERATED)]))
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass

from fakescope.provenance.credentials import IPTC_PREFIX

AI_GENERATED = IPTC_PREFIX + "trainedAlgorithmicMedia"
DIGITAL_CAPTURE = IPTC_PREFIX + "digitalCapture"


def created(source_type: str) -> dict:
    """A `c2pa.created` action declaring an IPTC digital source type (a full URI)."""
    return {"action": "c2pa.created", "digitalSourceType": source_type}


def manifest(actions: list[dict], generator: str = "Imaginary Generator", title: str = "made.jpg") -> dict:
    """A manifest definition for c2pa.Builder: the app that made it, a title, one actions assertion."""
    return {"claim_generator_info": [{"name": generator, "version": "1.0"}], "title": title,
            "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}]}


@dataclass
class ThrowawaySigner:
    ca_pem: bytes  # the root certificate: pass it as trust anchors to read the signer as trusted
    chain: bytes  # signer certificate + root, PEM
    key: bytes  # the signer's private key, PEM (PKCS#8)

    def sign(self, data: bytes, mime: str, definition: dict, parent: tuple[bytes, str, str] | None = None) -> bytes:
        """`data` with a signed manifest embedded. `parent` (bytes, mime, title) makes it an edit of that
        file: the parent becomes its `parentOf` ingredient and c2pa adds the `c2pa.opened` action."""
        import c2pa

        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.chain, self.key, None))
        builder = c2pa.Builder(definition)
        if parent is not None:
            parent_bytes, parent_mime, title = parent
            builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
            builder.add_ingredient({"title": title, "relationship": "parentOf"}, parent_mime, io.BytesIO(parent_bytes))
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
        return out.getvalue()


def make_ca(org: str):
    """(private key, self-signed root certificate) of a throwaway ES256 (P-256) CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(f"{org} Root CA", org)
    cert = (_validity(x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_signer(org: str = "Fakescope Test", signer_org: str = "Imaginary Generator Inc",
                common_name: str = "Test Signer") -> ThrowawaySigner:
    """A new CA and an end-entity signing certificate it issued (digital signature, e-mail protection EKU:
    what C2PA asks of a claim signer)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_key, ca = make_ca(org)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (_validity(x509.CertificateBuilder().subject_name(_name(common_name, signer_org)).issuer_name(ca.subject)
                      .public_key(key.public_key()))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ThrowawaySigner(ca.public_bytes(pem), cert.public_bytes(pem) + ca.public_bytes(pem), key_pem)


def _name(cn: str, org: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])


def _validity(builder):
    """A random serial and a validity from yesterday to a month from now."""
    from cryptography import x509

    now = datetime.datetime.now(datetime.UTC)
    return (builder.serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)))


def _usage(**on: bool):
    from cryptography import x509

    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    return x509.KeyUsage(**{**flags, **on})
