#!/usr/bin/python3
"""Local emulator of the AWS IoT certificate API, for the tests.

Usage:
    /usr/bin/python3 tests/iot-emulator.py --dir DIR [--region eu-west-1]
        [--account 123456789012] [--port 0]

Needs Debian's python3-cryptography (run it with /usr/bin/python3).

Start-up
    DIR/credentials.json must exist (written by the test, secrets never go
    on the command line): a JSON list of
        {"accessKeyId": "...", "secretAccessKey": "...",
         "sessionToken": "..."}            (sessionToken optional)
    The emulator then writes into DIR:
        ca.pem           throwaway TLS CA: the trust anchor for clients
        server.pem       TLS server certificate (127.0.0.1, localhost)
        server-key.pem   its key (mode 0600)
        issuer-ca.pem    CA that issues the device certificates
        port             the port it listens on, written atomically once
                         it is ready (127.0.0.1 only, HTTPS only)
        requests.jsonl   one JSON line per API request (see below)
    Human readable log lines go to stderr. SIGTERM/SIGINT stop it cleanly.

API (rest-json, shapes from botocore's iot/2015-05-28 model)
    POST /certificates[?setAsActive=true]   CreateCertificateFromCsr
    POST /certificate/register              RegisterCertificate
    POST /certificate/register-no-ca        RegisterCertificateWithoutCA
    GET  /certificates/{certificateId}      DescribeCertificate
    GET  /endpoint[?endpointType=...]       DescribeEndpoint
    PUT  /certificates/{id}?newStatus=S     UpdateCertificate (ACTIVE, INACTIVE, REVOKED)
    POST /things/{thingName}                CreateThing (200 again for the same
                                            configuration, else 409)
    GET  /things/{thingName}                DescribeThing
    PUT  /things/{thingName}/principals     AttachThingPrincipal (x-amzn-principal)
    GET  /things/{thingName}/principals     ListThingPrincipals
    GET  /principals/things                 ListPrincipalThings (x-amzn-principal)
    POST /policies/{policyName}             CreatePolicy
    PUT  /target-policies/{policyName}      AttachPolicy ({"target": ARN}; a missing
                                            policy or target is 404
                                            ResourceNotFoundException)
    POST /attached-policies/{target}        ListAttachedPolicies
    Every API request must carry a valid SigV4 signature for --region and
    service "iot" or "execute-api" (canonical request as AWS defines it: the
    query is decoded and re-encoded, so a client must send and sign
    "endpointType=iot%3AData-ATS", not a raw ":").  Errors are answered like AWS does:
    status from the model, x-amzn-ErrorType header, {"message": ...} body.
    Every response carries x-amzn-RequestId.

    Certificates issued from a CSR get the subject "CN=AWS IoT Certificate"
    (as AWS's do), a random serial, validity from one hour ago to
    2049-12-31T23:59:59Z and a SHA-256 signature by the issuing CA.  A
    certificate's id is the lowercase hex SHA-256 of its DER encoding.

Accepted CSRs are kept as DIR/csr/1.pem, 2.pem, ... in the order received.

Request log (DIR/requests.jsonl, also GET /_emulator/requests)
    {"time", "requestId", "method", "path", "query", "operation" (or null),
     "status", "errorType" (or null), "service" (signing name or null),
     "accessKeyId" (or null), "fault" (injected fault mode or null),
     "signedHeaders" (the SigV4 SignedHeaders, lowercase, or null)}
    ("status" is null for a "close" fault: no response was sent.)
    A line is written and flushed before its response is sent.

Control interface (unsigned, not logged as API requests)
    POST   /_emulator/faults     queue faults: a JSON object, or a list of them
        {"count": 1,             next N authenticated API requests
         "operation": null,      only requests for this operation (optional)
         "mode": "error",        error     AWS error response
                                 malformed 200 with a body that is not JSON
                                 envelope  200 with JSON of the wrong shape
                                 close     close the connection, no response
                                 slow      the normal response, after delay
                                 hold      the operation is performed, its
                                           response held until
                                           POST /_emulator/release (a lost
                                           answer, at a moment the test
                                           chooses)
                                 gateway   the real answer wrapped as a
                                           gateway does: {"success": true,
                                           "data": ...} or {"success": false,
                                           "error": {"code", "message"}},
                                           no x-amzn-ErrorType header
         "status": 503,          error mode; default from errorType's model
         "errorType": "ServiceUnavailableException",
         "message": "...",
         "delay": 0,             seconds to wait before answering
                                 (default 3 for slow)
         "retryAfter": null,     adds a Retry-After header (seconds)
         "apply": false,         perform the operation before the fault
                                 (a lost response); always so for slow
         "body": null,           body text for malformed/envelope
         "omitPem": false,       gateway: drop certificatePem from the data
         "omitArn": false}       gatewayids: no certificateArn in the description
        Two more modes change what CreateCertificateFromCsr does, not how it
        is answered: "wrongkey" issues the certificate (stored and answered
        normally) for a fresh key of the service's own instead of the CSR's;
        "gatewayids" answers {"success": true, "data": {"id": OPAQUE,
        "created_at": ...}} as the product's gateway does, and from then on
        DescribeCertificate of OPAQUE answers in that envelope.
    DELETE /_emulator/faults     drop queued faults
    GET    /_emulator/held       {"held": N}: responses held now ("hold")
    POST   /_emulator/release    answer every held response: {"released": N}
    GET    /_emulator/requests   the request log as a JSON list
    GET    /_emulator/certificates  the stored certificate descriptions
    GET    /_emulator/things     things, with their configuration and principals
    GET    /_emulator/policies   policies, with their documents and targets
"""

import argparse
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import posixpath
import re
import signal
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

CORAL_SUFFIX = ":http://internal.amazon.com/coral/com.amazonaws.iot/"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
MAX_SKEW = datetime.timedelta(minutes=15)
MAX_BODY = 1 << 20
NOT_AFTER = datetime.datetime(2049, 12, 31, 23, 59, 59)
CERT_STATUSES = ("ACTIVE", "INACTIVE", "REVOKED", "PENDING_TRANSFER",
                 "REGISTER_INACTIVE", "PENDING_ACTIVATION")
SIGNING_SERVICES = ("iot", "execute-api")

# HTTP status of each error shape, from the model (auth errors are 403).
ERROR_STATUS = {
    "InvalidRequestException": 400,
    "ThrottlingException": 400,
    "CertificateValidationException": 400,
    "UnauthorizedException": 401,
    "ResourceNotFoundException": 404,
    "LimitExceededException": 410,
    "CertificateStateException": 406,
    "ResourceAlreadyExistsException": 409,
    "CertificateConflictException": 409,
    "InternalFailureException": 500,
    "ServiceUnavailableException": 503,
}


class ApiError(Exception):
    """An AWS style error answer."""

    def __init__(self, error_type, message, status=None, coral=True, **extra):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status or ERROR_STATUS.get(error_type, 400)
        self.coral = coral
        self.extra = extra

    def header(self):
        return self.error_type + (CORAL_SUFFIX if self.coral else "")


def auth_error(error_type, message):
    """Authentication errors: 403, bare x-amzn-ErrorType."""
    return ApiError(error_type, message, status=403, coral=False)


def invalid_request(message):
    return ApiError("InvalidRequestException", message)


def utcnow():
    return datetime.datetime.utcnow().replace(microsecond=0)


# --- PKI ----------------------------------------------------------------------

def name(common_name):
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tpm-provision tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def build_cert(subject, public_key, issuer_name, issuer_key, ca=False,
               sans=None, not_after=NOT_AFTER, issuer_public_key=None):
    """Sign a certificate for public_key with issuer_key (SHA-256)."""
    issuer_public_key = issuer_public_key or issuer_key.public_key()
    now = utcnow()
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer_name)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                              critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=False,
                   key_encipherment=not ca and isinstance(public_key, rsa.RSAPublicKey),
                   data_encipherment=False, key_agreement=False,
                   key_cert_sign=ca, crl_sign=ca, encipher_only=False,
                   decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer_public_key), critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def self_signed_ca(common_name, key):
    subject = name(common_name)
    return build_cert(subject, key.public_key(), subject, key, ca=True)


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_id(cert):
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def write_file(path, data, mode=0o644):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(data)
    os.replace(tmp, path)


class Pki:
    """The throwaway TLS CA, server certificate and device issuing CA."""

    def __init__(self, directory):
        tls_ca_key = ec.generate_private_key(ec.SECP256R1())
        tls_ca = self_signed_ca("IoT emulator TLS CA", tls_ca_key)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = build_cert(
            name("127.0.0.1"), server_key.public_key(), tls_ca.subject,
            tls_ca_key, not_after=utcnow() + datetime.timedelta(days=30),
            sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                  x509.DNSName("localhost")])
        self.issuer_key = rsa.generate_private_key(65537, 2048)
        self.issuer = self_signed_ca("IoT emulator issuing CA", self.issuer_key)

        self.csr_dir = os.path.join(directory, "csr")
        os.makedirs(self.csr_dir, exist_ok=True)
        self.server_cert = os.path.join(directory, "server.pem")
        self.server_key = os.path.join(directory, "server-key.pem")
        write_file(os.path.join(directory, "ca.pem"), cert_pem(tls_ca))
        write_file(os.path.join(directory, "issuer-ca.pem"), cert_pem(self.issuer))
        write_file(self.server_cert, cert_pem(server))
        write_file(self.server_key, server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode(), mode=0o600)

    def issue(self, public_key):
        return build_cert(x509.Name([x509.NameAttribute(
            NameOID.COMMON_NAME, "AWS IoT Certificate")]), public_key,
            self.issuer.subject, self.issuer_key)

    def ssl_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.server_cert, self.server_key)
        return ctx


def key_problem(public_key):
    """Why a device key is not acceptable, or None."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < 2048:
            return "RSA key size %d is below 2048 bits" % public_key.key_size
        return None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in ("secp256r1", "secp384r1"):
            return "EC curve %s is not supported (P-256, P-384)" % public_key.curve.name
        return None
    return "key type %s is not supported (RSA, EC)" % type(public_key).__name__


def signed_by(cert, ca):
    """True when ca's key verifies cert's signature and the names chain."""
    if cert.issuer != ca.subject:
        return False
    key = ca.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError,
            UnsupportedAlgorithm):  # e.g. RSA-PSS
        return False
    return True


# --- SigV4 --------------------------------------------------------------------

def canonical_uri(path):
    """botocore's canonical URI for non-S3 services: the path as sent,
    dot segments removed, URI-encoded once more."""
    path = path or "/"
    normalized = posixpath.normpath(path)
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    normalized = re.sub("^/+", "/", normalized)
    return quote(normalized, safe="/~")


def aws_encode(text):
    return quote(text, safe="-_.~")


def canonical_query(query):
    pairs = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        pairs.append((aws_encode(unquote(key)), aws_encode(unquote(value))))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def canonical_headers(headers, names):
    lines = []
    for header in names:
        values = headers.get_all(header) or []
        lines.append("%s:%s\n" % (header, ",".join(" ".join(v.split()) for v in values)))
    return "".join(lines)


def signing_key(secret, date, region, service):
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def parse_authorization(value, has_date):
    """Split an AWS4-HMAC-SHA256 Authorization header into its parameters."""
    scheme, _, rest = value.strip().partition(" ")
    params = {}
    if scheme == "AWS4-HMAC-SHA256":
        for item in rest.split(","):
            key, _, val = item.strip().partition("=")
            params[key] = val
    missing = ["Authorization header requires '%s' parameter." % p
               for p in ("Credential", "Signature", "SignedHeaders")
               if not params.get(p)]
    if not has_date:
        missing.append("Authorization header requires existence of either "
                       "a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        raise auth_error("IncompleteSignatureException", " ".join(missing))
    return params


def parse_scope(credential):
    parts = credential.split("/")
    if len(parts) != 5:
        raise auth_error(
            "IncompleteSignatureException",
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            "keyid/date/region/service/term, got '%s'" % credential)
    return parts


def parse_amz_date(value):
    try:
        return datetime.datetime.strptime(value, AMZ_DATE)
    except ValueError:
        raise auth_error(
            "IncompleteSignatureException",
            "Date must be in ISO-8601 'basic format'. Got '%s'. See "
            "http://en.wikipedia.org/wiki/ISO_8601" % value) from None


def check_scope(scope, amz_date, region):
    _, date, scope_region, service, terminator = scope
    if date != amz_date[:8]:
        raise auth_error(
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
            "version of date from HTTP: '%s' != '%s', from '%s'."
            % (date, amz_date[:8], amz_date))
    if scope_region != region:
        raise auth_error(
            "InvalidSignatureException",
            "Credential should be scoped to a valid region, not '%s'. "
            "Expected '%s'." % (scope_region, region))
    if service not in SIGNING_SERVICES:
        raise auth_error(
            "InvalidSignatureException",
            "Credential should be scoped to correct service: 'iot', not '%s'. "
            % service)
    if terminator != "aws4_request":
        raise auth_error(
            "InvalidSignatureException",
            "Credential should be scoped with a valid terminator: "
            "'aws4_request', not '%s'. " % terminator)


def check_skew(amz_date, when):
    now = utcnow()
    if when < now - MAX_SKEW:
        raise auth_error(
            "InvalidSignatureException",
            "Signature expired: %s is now earlier than %s (%s - 15 min.)"
            % (amz_date, (now - MAX_SKEW).strftime(AMZ_DATE), now.strftime(AMZ_DATE)))
    if when > now + MAX_SKEW:
        raise auth_error(
            "InvalidSignatureException",
            "Signature not yet current: %s is still later than %s (%s + 15 min.)"
            % (amz_date, (now + MAX_SKEW).strftime(AMZ_DATE), now.strftime(AMZ_DATE)))


def check_token(credential, headers, signed):
    expected = credential.get("sessionToken")
    sent = headers.get("x-amz-security-token")
    if expected is None and sent is None:
        return
    if (sent is None or expected is None or "x-amz-security-token" not in signed
            or not hmac.compare_digest(sent.encode(), expected.encode())):
        raise auth_error("UnrecognizedClientException",
                         "The security token included in the request is invalid.")


def payload_hash(headers, body):
    actual = hashlib.sha256(body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and claimed != actual:
        raise auth_error("InvalidSignatureException",
                         "The provided 'x-amz-content-sha256' header does not "
                         "match what was computed.")
    return actual


class Verifier:
    """Checks SigV4 signatures against the credentials file."""

    def __init__(self, credentials, region):
        self.credentials = {c["accessKeyId"]: c for c in credentials}
        self.region = region

    def verify(self, req):
        """Return (accessKeyId, service) or raise ApiError.  Records the
        scope's service and key id in req as soon as they are known."""
        value = req.headers.get("Authorization")
        if not value:
            raise auth_error("MissingAuthenticationTokenException",
                             "Missing Authentication Token")
        amz_date = req.headers.get("x-amz-date")
        params = parse_authorization(value, amz_date is not None)
        scope = parse_scope(params["Credential"])
        req.access_key_id, req.service = scope[0], scope[3]
        when = parse_amz_date(amz_date)
        check_scope(scope, amz_date, self.region)
        check_skew(amz_date, when)
        signed = params["SignedHeaders"].lower().split(";")
        req.signed_headers = signed
        if "host" not in signed:
            raise auth_error("IncompleteSignatureException",
                             "'Host' or ':authority' must be a 'SignedHeader' "
                             "in the AWS Authorization.")
        credential = self.credentials.get(scope[0])
        if credential is None:
            raise auth_error("UnrecognizedClientException",
                             "The security token included in the request is invalid.")
        check_token(credential, req.headers, signed)
        canonical = "\n".join([
            req.method, canonical_uri(req.path), canonical_query(req.query),
            canonical_headers(req.headers, signed), ";".join(signed),
            payload_hash(req.headers, req.body)])
        string_to_sign = "\n".join([
            "AWS4-HMAC-SHA256", amz_date, "/".join(scope[1:]),
            hashlib.sha256(canonical.encode()).hexdigest()])
        key = signing_key(credential["secretAccessKey"], *scope[1:4])
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params["Signature"]):
            raise auth_error(
                "InvalidSignatureException",
                "The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key and "
                "signing method. Consult the service documentation for details.")
        return scope[0], scope[3]


# --- the certificate service --------------------------------------------------

def json_body(req):
    if not req.body:
        return {}
    try:
        body = json.loads(req.body)
    except (ValueError, UnicodeDecodeError):
        raise invalid_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    return body


def string_member(body, member, maximum, required=True):
    """An AWS-style validated string member of a request."""
    value = body.get(member)
    prefix = "1 validation error detected: Value %s at '%s' failed to satisfy constraint: "
    if value is None:
        if required:
            raise invalid_request(prefix % ("null", member) + "Member must not be null")
        return None
    if not isinstance(value, str):
        raise invalid_request(prefix % ("", member) + "Member must be a string")
    if not 1 <= len(value) <= maximum:
        raise invalid_request(prefix % ("", member) + "Member must have length "
                              "between 1 and %d" % maximum)
    return value


def bool_param(req, member):
    value = req.params.get(member)
    if value is None:
        return None
    if value not in ("true", "false"):
        raise invalid_request("Invalid value '%s' for %s: must be true or false."
                              % (value, member))
    return value == "true"


def status_member(body, default):
    status = string_member(body, "status", 64, required=False) or default
    if status not in CERT_STATUSES:
        raise invalid_request(
            "1 validation error detected: Value '%s' at 'status' failed to "
            "satisfy constraint: Member must satisfy enum value set: [%s]"
            % (status, ", ".join(CERT_STATUSES)))
    return status


def load_certificate(pem, what="certificate"):
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as e:
        raise ApiError("CertificateValidationException",
                       "The %s is not a valid X.509 certificate: %s" % (what, e)) from None


def check_validity(cert):
    now = utcnow()
    if cert.not_valid_after < now:
        raise ApiError("CertificateValidationException", "The certificate has expired.")
    if cert.not_valid_before > now:
        raise ApiError("CertificateValidationException", "The certificate is not yet valid.")


class GatewayAnswer(dict):
    """A result the gateway answers in its envelope, whatever the fault."""


class Service:
    """The operations and their state (thread-safe)."""

    def __init__(self, pki, region, account):
        self.pki = pki
        self.region = region
        self.account = account
        self.lock = threading.Lock()
        self.certificates = {}
        self.opaque_ids = {}      # a gateway's id -> AWS certificate id
        self.things = {}          # name -> {"config", "thingId", "principals"}
        self.policies = {}        # name -> {"document", "targets"}
        self.csr_count = 0
        self.csr_prefix = ""      # "wN-" in the worker processes

    def arn(self, certificate_id):
        return "arn:aws:iot:%s:%s:cert/%s" % (self.region, self.account, certificate_id)

    def store(self, cert, status, mode="DEFAULT", ca=None):
        certificate_id = cert_id(cert)
        now = time.time()
        record = {
            "certificateArn": self.arn(certificate_id),
            "certificateId": certificate_id,
            "caCertificateId": cert_id(ca) if ca is not None else None,
            "status": status,
            "certificatePem": cert_pem(cert),
            "ownedBy": self.account,
            "creationDate": now,
            "lastModifiedDate": now,
            "customerVersion": 1,
            "generationId": str(uuid.uuid4()),
            "validity": {
                "notBefore": cert.not_valid_before.replace(
                    tzinfo=datetime.timezone.utc).timestamp(),
                "notAfter": cert.not_valid_after.replace(
                    tzinfo=datetime.timezone.utc).timestamp(),
            },
            "certificateMode": mode,
        }
        record = {k: v for k, v in record.items() if v is not None}
        with self.lock:
            if certificate_id in self.certificates:
                raise ApiError("ResourceAlreadyExistsException",
                               "The certificate is already provisioned or registered",
                               resourceId=certificate_id,
                               resourceArn=self.arn(certificate_id))
            self.certificates[certificate_id] = record
        return record

    def descriptions(self):
        with self.lock:
            return [dict(r) for r in self.certificates.values()]

    # Operations: each takes the request and returns the response object.

    def create_certificate_from_csr(self, req):
        pem = string_member(json_body(req), "certificateSigningRequest", 4096)
        active = bool_param(req, "setAsActive")
        try:
            csr = x509.load_pem_x509_csr(pem.encode())
        except ValueError as e:
            raise invalid_request("The certificate signing request is not valid: %s" % e) from None
        if not csr.is_signature_valid:
            raise invalid_request("The certificate signing request's signature is not valid.")
        try:
            public_key = csr.public_key()
        except (ValueError, TypeError) as e:
            raise invalid_request("The certificate signing request's public key "
                                  "cannot be read: %s" % e) from None
        problem = key_problem(public_key)
        if problem:
            raise invalid_request("The certificate signing request's public key "
                                  "is not supported: %s." % problem)
        fault = req.fault or {}
        if fault.get("mode") == "wrongkey":
            # A broken service: a certificate for a key of its own making.
            public_key = (ec.generate_private_key(public_key.curve)
                          if isinstance(public_key, ec.EllipticCurvePublicKey)
                          else rsa.generate_private_key(65537, public_key.key_size)).public_key()
        record = self.store(self.pki.issue(public_key),
                            "ACTIVE" if active else "INACTIVE")
        self.keep_csr(pem)
        if fault.get("mode") == "gatewayids":
            opaque = "gw-" + uuid.uuid4().hex[:10]
            with self.lock:
                self.opaque_ids[opaque] = (record["certificateId"], bool(fault.get("omitArn")))
            return {"id": opaque, "created_at": utcnow().isoformat() + "Z"}
        return {k: record[k] for k in ("certificateArn", "certificateId", "certificatePem")}

    def keep_csr(self, pem):
        """Keep each accepted CSR as csr/N.pem (N from 1), for tests."""
        with self.lock:
            self.csr_count += 1
            path = os.path.join(self.pki.csr_dir, "%s%d.pem" % (self.csr_prefix, self.csr_count))
        write_file(path, pem)

    def register(self, req, with_ca):
        body = json_body(req)
        cert = load_certificate(string_member(body, "certificatePem", 65536))
        ca = None
        if with_ca:
            ca_pem = string_member(body, "caCertificatePem", 65536, required=False)
            ca = ca_pem and load_certificate(ca_pem, "CA certificate")
        legacy = bool_param(req, "setAsActive") if with_ca else None
        status = status_member(body, "ACTIVE" if legacy else "INACTIVE")
        check_validity(cert)
        problem = key_problem(cert.public_key())
        if problem:
            raise ApiError("CertificateValidationException",
                           "The certificate's public key is not supported: %s." % problem)
        if ca is not None and not signed_by(cert, ca):
            raise ApiError("CertificateValidationException",
                           "The certificate is not signed by the given CA certificate.")
        record = self.store(cert, status, mode="DEFAULT" if with_ca else "SNI_ONLY", ca=ca)
        return {k: record[k] for k in ("certificateArn", "certificateId")}

    def register_certificate(self, req):
        return self.register(req, with_ca=True)

    def register_certificate_without_ca(self, req):
        return self.register(req, with_ca=False)

    def certificate(self, certificate_id):
        """The stored record of an AWS id (64 hex digits), or raise."""
        if not re.fullmatch("[a-fA-F0-9]{64}", certificate_id):
            raise invalid_request(
                "1 validation error detected: Value '%s' at 'certificateId' failed "
                "to satisfy constraint: Member must have length 64 and satisfy "
                "regular expression pattern: (0x)?[a-fA-F0-9]+" % certificate_id)
        record = self.certificates.get(certificate_id.lower())
        if record is None:
            raise ApiError("ResourceNotFoundException",
                           "The certificate %s does not exist" % certificate_id)
        return record

    def describe_certificate(self, req):
        certificate_id = unquote(req.match.group(1))
        with self.lock:
            if certificate_id in self.opaque_ids:
                # The gateway answers for its own ids, in its envelope.
                real, omit_arn = self.opaque_ids[certificate_id]
                desc = dict(self.certificates[real], certificateId=certificate_id)
                if omit_arn:
                    desc.pop("certificateArn")
                return GatewayAnswer({"certificateDescription": desc})
            return {"certificateDescription": dict(self.certificate(certificate_id))}

    def update_certificate(self, req):
        certificate_id = unquote(req.match.group(1))
        status = req.params.get("newStatus")
        if status not in ("ACTIVE", "INACTIVE", "REVOKED"):
            raise invalid_request("newStatus %s cannot be set with UpdateCertificate" % status)
        with self.lock:
            record = self.certificate(certificate_id)
            record["status"] = status
            record["lastModifiedDate"] = time.time()
        return {}

    def thing_arn(self, name_):
        return "arn:aws:iot:%s:%s:thing/%s" % (self.region, self.account, name_)

    def create_thing(self, req):
        thing = unquote(req.match.group(1))
        body = json_body(req) if req.body else {}
        config = {k: body.get(k) for k in ("thingTypeName", "attributePayload", "billingGroupName")}
        with self.lock:
            known = self.things.get(thing)
            if known is not None and known["config"] != config:
                raise ApiError("ResourceAlreadyExistsException",
                               "Thing %s already exists with different tags or attributes" % thing,
                               resourceId=known["thingId"], resourceArn=self.thing_arn(thing))
            if known is None:
                known = self.things[thing] = {"config": config, "thingId": str(uuid.uuid4()),
                                              "principals": []}
        return {"thingName": thing, "thingArn": self.thing_arn(thing), "thingId": known["thingId"]}

    def thing(self, thing):
        if thing not in self.things:
            raise ApiError("ResourceNotFoundException", "Thing %s cannot be found." % thing)
        return self.things[thing]

    def describe_thing(self, req):
        thing = unquote(req.match.group(1))
        with self.lock:
            known = self.thing(thing)
            return {"thingName": thing, "thingArn": self.thing_arn(thing),
                    "thingId": known["thingId"], "version": 1,
                    "attributes": (known["config"].get("attributePayload") or {}).get("attributes", {})}

    def principal(self, req):
        """The certificate ARN of x-amzn-principal (AWS answers
        ResourceNotFoundException for a certificate it does not have)."""
        arn = req.headers.get("x-amzn-principal") or ""
        if not any(r["certificateArn"] == arn for r in self.certificates.values()):
            raise ApiError("ResourceNotFoundException", "Principal %s cannot be found." % arn)
        return arn

    def attach_thing_principal(self, req):
        thing = unquote(req.match.group(1))
        with self.lock:
            known = self.thing(thing)
            arn = self.principal(req)
            if arn not in known["principals"]:
                known["principals"].append(arn)
        return {}

    def list_thing_principals(self, req):
        with self.lock:
            return {"principals": list(self.thing(unquote(req.match.group(1)))["principals"])}

    def list_principal_things(self, req):
        with self.lock:
            arn = self.principal(req)
            return {"things": [t for t, v in self.things.items() if arn in v["principals"]]}

    def policy_arn(self, name_):
        return "arn:aws:iot:%s:%s:policy/%s" % (self.region, self.account, name_)

    def create_policy(self, req):
        policy = unquote(req.match.group(1))
        document = string_member(json_body(req), "policyDocument", 20480)
        with self.lock:
            if policy in self.policies:
                raise ApiError("ResourceAlreadyExistsException", "Policy %s already exists" % policy,
                               resourceId=policy, resourceArn=self.policy_arn(policy))
            self.policies[policy] = {"document": document, "targets": []}
        return {"policyName": policy, "policyArn": self.policy_arn(policy),
                "policyDocument": document, "policyVersionId": "1"}

    def attach_policy(self, req):
        policy = unquote(req.match.group(1))
        target = string_member(json_body(req), "target", 2048)
        with self.lock:
            if policy not in self.policies:
                raise ApiError("ResourceNotFoundException", "Policy %s does not exist" % policy)
            if not any(r["certificateArn"] == target for r in self.certificates.values()):
                raise ApiError("ResourceNotFoundException", "Target %s cannot be found." % target)
            if target not in self.policies[policy]["targets"]:
                self.policies[policy]["targets"].append(target)
        return {}

    def list_attached_policies(self, req):
        target = unquote(req.match.group(1))
        with self.lock:
            return {"policies": [{"policyName": p, "policyArn": self.policy_arn(p)}
                                 for p, v in self.policies.items() if target in v["targets"]]}

    def state(self, kind):
        with self.lock:
            return json.loads(json.dumps(self.things if kind == "things" else self.policies))

    def endpoint_prefix(self, kind):
        digest = hashlib.sha256(("%s:%s:%s" % (kind, self.account, self.region)).encode())
        number = int.from_bytes(digest.digest(), "big")
        chars = []
        for _ in range(14):
            number, rest = divmod(number, 36)
            chars.append("0123456789abcdefghijklmnopqrstuvwxyz"[rest])
        return "".join(chars)

    def describe_endpoint(self, req):
        kind = req.params.get("endpointType", "iot:Data")
        templates = {
            "iot:Data": ("data", "%s.iot.%s.amazonaws.com"),
            "iot:Data-ATS": ("data", "%s-ats.iot.%s.amazonaws.com"),
            "iot:CredentialProvider": ("credentials", "%s.credentials.iot.%s.amazonaws.com"),
            "iot:Jobs": ("jobs", "%s.jobs.iot.%s.amazonaws.com"),
        }
        if kind not in templates:
            raise invalid_request("Endpoint type %s is not valid." % kind)
        prefix_kind, template = templates[kind]
        return {"endpointAddress": template % (self.endpoint_prefix(prefix_kind), self.region)}

    def routes(self):
        """(method, path pattern, operation name, handler)."""
        return [
            ("POST", r"/certificates", "CreateCertificateFromCsr",
             self.create_certificate_from_csr),
            ("POST", r"/certificate/register", "RegisterCertificate",
             self.register_certificate),
            ("POST", r"/certificate/register-no-ca", "RegisterCertificateWithoutCA",
             self.register_certificate_without_ca),
            ("GET", r"/certificates/([^/]+)", "DescribeCertificate",
             self.describe_certificate),
            ("PUT", r"/certificates/([^/]+)", "UpdateCertificate", self.update_certificate),
            ("POST", r"/things/([^/]+)", "CreateThing", self.create_thing),
            ("GET", r"/things/([^/]+)", "DescribeThing", self.describe_thing),
            ("PUT", r"/things/([^/]+)/principals", "AttachThingPrincipal",
             self.attach_thing_principal),
            ("GET", r"/things/([^/]+)/principals", "ListThingPrincipals",
             self.list_thing_principals),
            ("GET", r"/principals/things", "ListPrincipalThings", self.list_principal_things),
            ("POST", r"/policies/([^/]+)", "CreatePolicy", self.create_policy),
            ("PUT", r"/target-policies/([^/]+)", "AttachPolicy", self.attach_policy),
            ("POST", r"/attached-policies/(.+)", "ListAttachedPolicies",
             self.list_attached_policies),
            ("GET", r"/endpoint", "DescribeEndpoint", self.describe_endpoint),
        ]


# --- faults -------------------------------------------------------------------

FAULT_MODES = ("error", "malformed", "envelope", "close", "slow", "hold", "gateway",
               "wrongkey", "gatewayids")


def parse_fault(spec):
    if not isinstance(spec, dict):
        raise ValueError("a fault is a JSON object")
    mode = spec.get("mode", "error")
    if mode not in FAULT_MODES:
        raise ValueError("mode must be one of %s" % ", ".join(FAULT_MODES))
    count = int(spec.get("count", 1))
    if count < 1:
        raise ValueError("count must be at least 1")
    error_type = spec.get("errorType", "ServiceUnavailableException")
    return {
        "count": count,
        "operation": spec.get("operation"),
        "mode": mode,
        "errorType": error_type,
        "status": int(spec.get("status", ERROR_STATUS.get(error_type, 500))),
        "message": spec.get("message", "Injected fault: %s" % error_type),
        "delay": float(spec.get("delay", 3 if mode == "slow" else 0)),
        "retryAfter": spec.get("retryAfter"),
        "apply": bool(spec.get("apply")) or mode in ("slow", "hold", "gateway"),
        "omitPem": bool(spec.get("omitPem")),
        "omitArn": bool(spec.get("omitArn")),
        "body": spec.get("body"),
    }


class RateLimit:
    """The account's request rate, as AWS IoT enforces it: a token bucket
    (rate per second, a burst of one second's worth); beyond it,
    ThrottlingException (HTTP 400).  No limit when rate is 0."""

    def __init__(self, rate):
        self.lock = threading.Lock()
        self.rate = rate
        self.tokens = rate
        self.last = time.monotonic()

    def take(self):
        if not self.rate:
            return True
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class Faults:
    """Queue of faults for the next API requests."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queue = []

    def add(self, specs):
        faults = [parse_fault(s) for s in (specs if isinstance(specs, list) else [specs])]
        with self.lock:
            self.queue.extend(faults)
        return len(faults)

    def clear(self):
        with self.lock:
            self.queue.clear()

    def take(self, operation):
        with self.lock:
            for fault in self.queue:
                if fault["operation"] in (None, operation):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.queue.remove(fault)
                    return dict(fault)
        return None


class Holds:
    """Responses held by "hold" faults: a test waits until the requests it
    wants are here (the operation done, the client waiting for the answer),
    acts (kills the client), then releases them."""

    def __init__(self):
        self.cond = threading.Condition()
        self.held = 0
        self.generation = 0

    def hold(self):
        with self.cond:
            generation = self.generation
            self.held += 1
            while self.generation == generation:
                self.cond.wait()

    def release(self):
        with self.cond:
            released, self.held = self.held, 0
            self.generation += 1
            self.cond.notify_all()
            return released

    def count(self):
        with self.cond:
            return self.held


# --- the server ---------------------------------------------------------------

class Request:
    """What one HTTP request brought, plus what was learnt about it."""

    def __init__(self, method, target, headers, body):
        self.method = method
        self.path, _, self.query = target.partition("?")
        self.headers = headers
        self.body = body
        self.params = {}
        for part in self.query.split("&") if self.query else []:
            key, _, value = part.partition("=")
            self.params.setdefault(unquote(key), unquote(value))
        self.request_id = str(uuid.uuid4())
        self.operation = None
        self.match = None
        self.service = None
        self.access_key_id = None
        self.fault = None
        self.signed_headers = None


class RequestLog:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.entries = []
        self.file = open(path, "a", encoding="utf-8")

    def add(self, entry):
        with self.lock:
            self.entries.append(entry)
            self.file.write(json.dumps(entry) + "\n")
            self.file.flush()

    def all(self):
        with self.lock:
            return list(self.entries)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def version_string(self):
        return "iot-emulator"

    # The emulator state lives on the server object (see make_server).

    def do_any(self):
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            self.send_json(400, {"message": str(e)}, error_type="SerializationException")
            return
        req = Request(self.command, self.path, self.headers, body)
        if req.path.startswith("/_emulator/"):
            self.control(req)
        else:
            self.api(req)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_any

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(length)

    def read_chunked(self):
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return body
            body += self.rfile.read(size)
            self.rfile.readline()
            if len(body) > MAX_BODY:
                raise ValueError("request body too large")

    # --- API requests

    def route(self, req):
        for method, pattern, operation, handler in self.server.service.routes():
            match = re.fullmatch(pattern, req.path)
            if match and method == req.method:
                req.operation, req.match = operation, match
                return handler
        return None

    def api(self, req):
        handler = self.route(req)
        try:
            self.server.verifier.verify(req)
            if handler is None:
                raise ApiError("UnknownOperationException", "Unknown operation",
                               status=404, coral=False)
            if not self.server.rate_limit.take():
                raise ApiError("ThrottlingException", "Rate exceeded")
            req.fault = self.server.faults.take(req.operation)
            if req.fault and req.fault["mode"] not in ("wrongkey", "gatewayids"):
                self.apply_fault(req, handler)
                return
            result = handler(req)
            if isinstance(result, GatewayAnswer) or (req.fault and req.fault["mode"] == "gatewayids"):
                self.answer(req, 200, {"success": True, "data": dict(result)})
            else:
                self.answer(req, 200, result)
        except ApiError as e:
            self.answer_error(req, e)
        except (ConnectionError, ssl.SSLError) as e:
            # The client went away (a killed run): there is no one to
            # answer, and the request is already logged.
            self.log_message("client gone: %r", e)
            self.close_connection = True
        except Exception as e:  # a bug here: answer like AWS would
            self.log_message("internal error: %r", e)
            self.answer_error(req, ApiError("InternalFailureException",
                                            "An internal error occurred."))

    def apply_fault(self, req, handler):
        fault = req.fault
        result = None
        if fault["apply"]:
            try:
                result = (200, handler(req))
            except ApiError as e:
                result = e
        time.sleep(fault["delay"])
        mode = fault["mode"]
        if mode == "hold":
            self.server.holds.hold()
        if mode in ("slow", "hold"):
            if isinstance(result, ApiError):
                self.answer_error(req, result)
            else:
                self.answer(req, *result)
        elif mode == "error":
            headers = {}
            if fault["retryAfter"] is not None:
                headers["Retry-After"] = str(fault["retryAfter"])
            self.answer_error(req, ApiError(fault["errorType"], fault["message"],
                                            status=fault["status"]), headers)
        elif mode == "close":
            self.log_request_entry(req, None, None)
            self.close_connection = True
        elif mode == "gateway":
            self.answer_gateway(req, result, fault["omitPem"])
        else:
            default = ('{"certificateArn": "arn:aws:iot:' if mode == "malformed"
                       else '{"unexpected": {}}')
            self.answer(req, 200, raw=(fault["body"] or default).encode())

    def answer(self, req, status, obj=None, raw=None, error=None, headers=None):
        self.log_request_entry(req, status, error.error_type if error else None)
        payload = raw if raw is not None else json.dumps(obj).encode()
        self.send_json(status, payload, request_id=req.request_id,
                       error_type=error.header() if error else None,
                       headers=headers)

    def answer_gateway(self, req, result, omit_pem):
        """The answer as a gateway wraps it: {"success": true, "data": ...}
        or {"success": false, "error": {"code", "message"}}, without AWS's
        headers; omit_pem drops certificatePem from the data."""
        if isinstance(result, ApiError):
            obj = {"success": False,
                   "error": {"code": result.error_type, "message": result.message}}
            self.log_request_entry(req, result.status, result.error_type)
            self.send_json(result.status, json.dumps(obj).encode(), request_id=req.request_id)
            return
        status, data = result
        if omit_pem:
            data = {k: v for k, v in data.items() if k != "certificatePem"}
        self.answer(req, status, {"success": True, "data": data})

    def answer_error(self, req, error, headers=None):
        obj = {"message": error.message}
        obj.update(error.extra)
        self.answer(req, error.status, obj, error=error, headers=headers)

    def log_request_entry(self, req, status, error_type):
        entry = {
            "time": datetime.datetime.utcnow().isoformat() + "Z",
            "requestId": req.request_id,
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "operation": req.operation,
            "status": status,
            "errorType": error_type,
            "service": req.service,
            "accessKeyId": req.access_key_id,
            "fault": req.fault["mode"] if req.fault else None,
            "signedHeaders": req.signed_headers,
        }
        self.server.request_log.add(entry)
        self.log_message("%s %s %s %s op=%s service=%s%s", req.method, req.path,
                         status if status is not None else "-", error_type or "-",
                         req.operation or "-", req.service or "-",
                         " fault=" + entry["fault"] if entry["fault"] else "")

    # --- control requests

    def control(self, req):
        server = self.server
        key = (req.method, req.path)
        try:
            if key == ("POST", "/_emulator/faults"):
                obj = {"queued": server.faults.add(json.loads(req.body or b"null"))}
            elif key == ("DELETE", "/_emulator/faults"):
                server.faults.clear()
                obj = {"queued": 0}
            elif key == ("GET", "/_emulator/held"):
                obj = {"held": server.holds.count()}
            elif key == ("POST", "/_emulator/release"):
                obj = {"released": server.holds.release()}
            elif key == ("GET", "/_emulator/requests"):
                obj = server.request_log.all()
            elif key == ("GET", "/_emulator/certificates"):
                obj = server.service.descriptions()
            elif key == ("GET", "/_emulator/things"):
                obj = server.service.state("things")
            elif key == ("GET", "/_emulator/policies"):
                obj = server.service.state("policies")
            else:
                self.send_json(404, {"message": "no such control endpoint"},
                               request_id=req.request_id)
                return
        except (ValueError, TypeError) as e:
            self.send_json(400, {"message": "bad fault: %s" % e}, request_id=req.request_id)
            return
        self.send_json(200, obj, request_id=req.request_id)

    # --- HTTP plumbing

    def send_json(self, status, payload, request_id=None, error_type=None, headers=None):
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", request_id or str(uuid.uuid4()))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        for name_, value in (headers or {}).items():
            self.send_header(name_, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_request(self, code="-", size="-"):
        pass  # one line per request comes from log_request_entry

    def log_message(self, fmt, *args):
        sys.stderr.write("%s iot-emulator: %s\n" % (
            datetime.datetime.utcnow().strftime("%H:%M:%S"), fmt % args))
        sys.stderr.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # TLS, resets, timeouts: one line
            sys.stderr.write("iot-emulator: connection from %s: %r\n" % (client_address[0], exc))
        else:
            super().handle_error(request, client_address)


def load_credentials(path):
    with open(path, encoding="utf-8") as f:
        credentials = json.load(f)
    if not isinstance(credentials, list) or not all(
            isinstance(c, dict) and isinstance(c.get("accessKeyId"), str)
            and isinstance(c.get("secretAccessKey"), str) for c in credentials):
        raise SystemExit("iot-emulator: %s: expected a list of "
                         "{accessKeyId, secretAccessKey[, sessionToken]}" % path)
    return credentials


def make_server(args):
    credentials = load_credentials(os.path.join(args.dir, "credentials.json"))
    pki = Pki(args.dir)
    server = Server(("127.0.0.1", args.port), Handler)
    # The TLS handshake happens in the handler thread, on first read.
    server.socket = pki.ssl_context().wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False)
    server.verifier = Verifier(credentials, args.region)
    server.service = Service(pki, args.region, args.account)
    server.faults = Faults()
    server.holds = Holds()
    server.rate_limit = RateLimit(args.rate_limit)
    server.request_log = RequestLog(os.path.join(args.dir, "requests.jsonl"))
    return server


def parse_args(argv):
    parser = argparse.ArgumentParser(description="AWS IoT certificate API emulator")
    parser.add_argument("--dir", required=True, help="state directory")
    parser.add_argument("--region", default="eu-west-1")
    parser.add_argument("--account", default="123456789012")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes serving the port (benchmarks; each keeps its own state, "
                             "so only independent requests such as CreateCertificateFromCsr "
                             "make sense with more than one)")
    parser.add_argument("--rate-limit", type=float, default=0,
                        help="API requests per second before ThrottlingException (0: none)")
    return parser.parse_args(argv)


def fork_workers(server, workers):
    """More processes accepting on the same socket (before any thread is
    started); each numbers the CSRs it keeps apart.  The parent's list of
    children."""
    children = []
    parent = os.getpid()
    for i in range(1, workers):
        pid = os.fork()
        if pid == 0:
            server.service.csr_prefix = "w%d-" % i
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)

            def orphaned():  # never outlive the parent, however it ends
                while os.getppid() == parent:
                    time.sleep(0.5)
                os._exit(0)
            threading.Thread(target=orphaned, daemon=True).start()
            try:
                server.serve_forever()
            finally:
                os._exit(0)
        children.append(pid)
    return children


def main(argv=None):
    args = parse_args(argv)
    server = make_server(args)

    def stop(signum, frame):
        raise KeyboardInterrupt

    children = fork_workers(server, args.workers)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = server.server_address[1]
    port_file = os.path.join(args.dir, "port")
    write_file(port_file, "%d\n" % port)
    sys.stderr.write("iot-emulator: listening on https://127.0.0.1:%d (%s, account %s)\n"
                     % (port, args.region, args.account))
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)
        server.server_close()
        try:
            os.unlink(port_file)
        except FileNotFoundError:
            pass
    sys.stderr.write("iot-emulator: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
