#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Local emulator of the AWS IoT certificate API and, with --mqtt, of its
MQTT data plane and fleet provisioning, for the tests.

Usage:
    /usr/bin/python3 tests/emulator/iot-emulator.py --dir DIR [--region eu-west-1]
        [--account 123456789012] [--port 0] [--rate-limit N] [--workers N]
        [--mqtt [--mqtt-port 0] [--token-lifetime 3600]]

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
    DELETE /certificates/{id}[?forceDelete=true]  DeleteCertificate: ACTIVE is 406
                                            CertificateStateException; attached to a
                                            thing (even forced) or, unforced, to a
                                            policy is 409 DeleteConflictException
    POST /things/{thingName}                CreateThing (200 again for the same
                                            configuration, else 409)
    GET  /things/{thingName}                DescribeThing
    PUT  /things/{thingName}/principals     AttachThingPrincipal (x-amzn-principal)
    DELETE /things/{thingName}/principals  DetachThingPrincipal (x-amzn-principal)
    GET  /things/{thingName}/principals     ListThingPrincipals
    GET  /principals/things                 ListPrincipalThings (x-amzn-principal)
    POST /policies/{policyName}             CreatePolicy
    PUT  /target-policies/{policyName}      AttachPolicy ({"target": ARN}; a missing
                                            policy or target is 404
                                            ResourceNotFoundException)
    POST /target-policies/{policyName}      DetachPolicy ({"target": ARN}; a missing
                                            policy is 404, an unattached target 200)
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

Credentials provider (DIR/credentials-port, written before DIR/port;
--credentials-port)
    POST /role-aliases/{roleAlias}          CreateRoleAlias on the API port
                                            ({"roleArn", "credentialDurationSeconds"})
    GET /role-aliases/{alias}/credentials   on its own port, mutual TLS: only a
        certificate ACTIVE at connection time is accepted (as its own trust
        anchor); header x-amzn-iot-thingname, when sent, must name a thing
        the certificate is attached to.  Answer:
        {"credentials": {"accessKeyId", "secretAccessKey", "sessionToken",
        "expiration"}}; unknown alias or thing: 403 {"message": ...}.  The
        issued credentials then sign API requests, only with their
        x-amz-security-token.  (No policy check of iot:AssumeRoleWithCertificate.)

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

MQTT data plane (--mqtt)
    MQTT 3.1.1 over TLS on its own port, 127.0.0.1 only, written to
    DIR/mqtt-port (before DIR/port, so a test that sees one sees both;
    removed at exit).  Not with --workers (the state is one process's).
    A minimal server embedded here rather than Debian's mosquitto broker
    in front: what is emulated is AWS IoT's authentication and
    authorisation, which depend on the service's state (certificates and
    their status, policies and their targets, things and their
    principals, ownership tokens), and the provisioning topics are
    answered by the service itself; a broker in another process would
    need all of that through a plugin.  Served: CONNECT/CONNACK,
    SUBSCRIBE/SUBACK, UNSUBSCRIBE/UNSUBACK, PUBLISH at QoS 0 and 1 (PUBACK;
    QoS 2 closes the connection, as AWS does), PINGREQ/PINGRESP,
    DISCONNECT.  Deliveries are not retried, retained messages and
    sessions are not kept, the keep-alive is enforced at 1.5 times its
    value.  ALPN "x-amzn-mqtt-ca" (AWS's MQTT on port 443) is accepted.

    TLS: the server certificate is server.pem (ca.pem is the trust
    anchor); a client certificate is required.  Each connection's TLS
    context trusts exactly the certificates that are ACTIVE at that moment,
    each as its own trust anchor (partial chains), whoever issued it: the
    emulator (CreateCertificateFromCsr, fleet provisioning, claims), a
    registered CA or none (RegisterCertificate*).  Any other certificate,
    including an INACTIVE, REVOKED or PENDING_ACTIVATION one, fails the
    handshake itself with a TLS alert (no MQTT byte is read), as AWS IoT
    refuses a certificate that is not ACTIVE; the peer certificate's
    SHA-256 is then checked once more against the ACTIVE ones.  (A
    PENDING_ACTIVATION certificate does not connect: the device finishes
    provisioning with its claim and the ownership token, then connects
    with its own certificate once RegisterThing made it ACTIVE.)

    CONNECT: only MQTT 3.1.1 (protocol level 4; other levels get CONNACK
    1).  An empty client id gets a generated one.  When no policy attached
    to the certificate allows iot:Connect on
    arn:aws:iot:REGION:ACCOUNT:client/CLIENTID, the connection is closed
    without CONNACK, as AWS IoT does.  A second connection with the same
    client id closes the first.  SUBSCRIBE needs iot:Subscribe on
    topicfilter/FILTER (else the SUBACK return code 0x80); a message is
    delivered to a subscription only where iot:Receive on topic/TOPIC is
    allowed; PUBLISH needs iot:Publish on topic/TOPIC, else the
    connection is closed (AWS's behaviour with MQTT 3.1.1).  Messages
    published elsewhere than under $aws/ go to every matching
    subscription of every connection.

    The policy subset evaluated: "Statement" (an object or a list) with
    "Effect" Allow or Deny (an explicit Deny wins), "Action" and
    "Resource" (a string or a list), case-insensitive actions with
    wildcards ("iot:*"), resources with "*" (any characters, "/"
    included) and "?" (one character), and the policy variables
    ${iot:ClientId} and ${iot:Connection.Thing.ThingName} (the client id,
    when a thing of that name has the certificate as a principal; else
    unresolved).  A resource with an unresolved variable, and a statement
    with Condition, NotAction or NotResource, never applies.

Fleet provisioning (AWS's "Device provisioning MQTT API", JSON only)
    Answers go to the connection that asked, on TOPIC/accepted or
    TOPIC/rejected, when it is subscribed to them (and allowed
    iot:Receive), after the PUBACK:
    $aws/certificates/create-from-csr/json
        {"certificateSigningRequest": PEM} -> accepted
        {"certificateId", "certificatePem", "certificateOwnershipToken"}:
        a certificate issued as CreateCertificateFromCsr does, status
        PENDING_ACTIVATION, the CSR kept in DIR/csr/ too.
    $aws/provisioning-templates/NAME/provision/json
        {"certificateOwnershipToken", "parameters": {NAME: STRING}} ->
        accepted {"deviceConfiguration", "thingName"}: the template's
        resources made, the certificate's status set as the template says
        (ACTIVE when it does not), the token used up.
    rejected {"statusCode", "errorCode", "errorMessage"}.  AWS does not
    document the codes: InvalidCertificateOwnershipToken is what it is
    seen to answer; the others are the names of the REST API's errors.
        400 InvalidRequestException             a bad CSR (unreadable, bad
                                                signature, unsupported key),
                                                a missing parameter (named),
                                                parameters not strings
        400 InvalidPayload                      not a JSON object
        400 InvalidCertificateOwnershipToken    an empty, unknown, used or
                                                expired token
        400 ResourceRegistrationFailureException  a template resource that
                                                cannot be made (a missing
                                                policy, a bad thing name)
        403 UnauthorizedException               a template limited to other
                                                claim certificates
        404 ResourceNotFoundException           an unknown or disabled template
        429 ThrottlingException                 (the "rejected" fault's default)
    A rejected RegisterThing leaves the token usable.  A token lives
    --token-lifetime seconds (AWS: one hour); within a second of its
    expiry unused, its certificate, if still PENDING_ACTIVATION and
    attached to nothing, is deleted, as AWS does.  The $aws/certificates/create/json
    (CreateKeysAndCertificate) and cbor topics are not served.

    Templates are AWS's provisioning template JSON, the subset:
    "Parameters" (a "Default" is used when the device does not send the
    parameter; AWS::IoT::Certificate::Id is set to the token's
    certificate), "Resources" of the types AWS::IoT::Thing (ThingName,
    AttributePayload, ThingTypeName; an existing thing is kept and gets
    the certificate), AWS::IoT::Certificate (CertificateId, which must be
    the token's, and Status Active/Inactive) and AWS::IoT::Policy
    (PolicyName of an existing policy, or PolicyDocument for a new one),
    and "DeviceConfiguration"; values may be literals, {"Ref": P},
    {"Fn::Join": [SEP, [...]]} or {"Fn::Sub": "..${P}.."}.  Other resource
    types are rejected (ResourceRegistrationFailureException).

MQTT control calls (on the HTTPS port, unsigned; 404 without --mqtt)
    POST   /_emulator/templates   define (or replace) a template:
        {"templateName": NAME, "templateBody": TEMPLATE (an object or its
         JSON text), "enabled": true, "claimCertificateIds": null (any
         claim its policy lets publish there) or [ids]}
    GET    /_emulator/templates   the templates
    POST   /_emulator/claim       a claim certificate: {"templates": null
        (any) or [NAME...], "policyName": null (claim-N)} -> {"certificateId",
        "certificateArn", "certificatePem", "privateKey" (PEM, EC P-256),
        "policyName"}: ACTIVE, its policy allowing iot:Connect for any
        client id and only the provisioning topics (Publish the requests,
        Subscribe and Receive their answers).  A test may instead register
        a certificate of its own through the REST API and attach a policy.
    POST   /_emulator/expire-tokens  every ownership token expires now
                                  {"expired": N certificates deleted}
    POST   /_emulator/mqtt-faults queue faults: a JSON object or a list
        {"count": 1,               next N matching operations
         "operation": ...,         Connect, CreateCertificateFromCsr or
                                   RegisterThing; none: either provisioning
                                   operation (never Connect); disconnect and
                                   connack default to Connect
         "mode": "disconnect",     disconnect  close the connection without
                                               answering (after CONNECT: no
                                               CONNACK, a broker that drops)
                                   connack     CONNACK with returnCode, then
                                               close (Connect only)
                                   slow        answer after delay
                                   rejected    answer rejected with statusCode,
                                               errorCode, errorMessage
                                   hold        perform the operation, hold its
                                               answer until
                                               POST /_emulator/release
                                   drop        perform the operation, never
                                               answer (a lost answer)
         "delay": 0,               seconds before anything else (3 for slow)
         "returnCode": 3,          connack (3: server unavailable, 5: not
                                   authorised)
         "statusCode": 429, "errorCode": "ThrottlingException",
         "errorMessage": "Rate exceeded"}          rejected
    DELETE /_emulator/mqtt-faults drop queued MQTT faults
    GET    /_emulator/mqtt        the MQTT log as a JSON list

MQTT log (DIR/mqtt.jsonl)
    One JSON line per event, flushed at once, written before the client
    can see the connection end: {"time", "connection" (a number per TCP
    connection), "event", ...}:
        tls-refused  reason, detail (the handshake failed: OpenSSL's reason)
        tls          certificateId, alpn, tlsVersion
        connect      clientId, certificateId, result ("accepted", "not
                     authorized: ...", "fault: ..."), keepAlive, cleanSession
        subscribe    clientId, topicFilter, qos, granted (0x80 = 128: refused)
        unsubscribe  clientId, topicFilter
        publish      clientId, topic, qos, bytes (received)
        deliver      clientId, topic, qos, bytes (sent)
        provision    operation, clientId, result (accepted/rejected), fault,
                     certificateId or thingName, or the rejection's fields
        close        clientId, certificateId, reason (every connection has
                     one: "client sent DISCONNECT", "not authorized to
                     connect as ID", "not authorized to publish to TOPIC",
                     "another connection with the same client id",
                     "TLS handshake failed", "fault: ...", ...)
    Payloads, tokens and keys are never logged.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import posixpath
import re
import secrets
import select
import signal
import socket
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
    "DeleteConflictException": 409,
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


def csr_public_key(pem):
    """The public key of a PEM CSR the service accepts, or raise."""
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
    return public_key


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
        self.role_aliases = {}    # alias -> {"roleArn", "duration", "arn"}
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
        public_key = csr_public_key(pem)
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

    def detach_thing_principal(self, req):
        thing = unquote(req.match.group(1))
        with self.lock:
            known = self.thing(thing)
            arn = self.principal(req)
            if arn in known["principals"]:
                known["principals"].remove(arn)
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

    def detach_policy(self, req):
        policy = unquote(req.match.group(1))
        target = string_member(json_body(req), "target", 2048)
        with self.lock:
            if policy not in self.policies:
                raise ApiError("ResourceNotFoundException", "Policy %s does not exist" % policy)
            if target in self.policies[policy]["targets"]:
                self.policies[policy]["targets"].remove(target)
        return {}

    def delete_certificate(self, req):
        """AWS's order: ACTIVE is refused first, then a thing attachment
        (even with forceDelete), then policies (unless forceDelete)."""
        certificate_id = unquote(req.match.group(1))
        force = bool_param(req, "forceDelete")
        with self.lock:
            record = self.certificate(certificate_id)
            arn = record["certificateArn"]
            if record["status"] == "ACTIVE":
                raise ApiError("CertificateStateException",
                               "Certificate must be deactivated (not ACTIVE) before deletion.")
            if any(arn in t["principals"] for t in self.things.values()):
                raise ApiError("DeleteConflictException",
                               "Things must be detached before deletion (arn: %s)" % arn)
            policies = [p for p in self.policies.values() if arn in p["targets"]]
            if policies and not force:
                raise ApiError("DeleteConflictException",
                               "Certificate policies must be detached before deletion (arn: %s)"
                               % arn)
            for entry in policies:
                entry["targets"].remove(arn)
            del self.certificates[record["certificateId"]]
        return {}

    def create_role_alias(self, req):
        alias = unquote(req.match.group(1))
        body = json_body(req)
        role = string_member(body, "roleArn", 2048)
        duration = body.get("credentialDurationSeconds", 3600)
        if not isinstance(duration, int) or not 900 <= duration <= 43200:
            raise invalid_request("credentialDurationSeconds must be 900 to 43200.")
        arn = "arn:aws:iot:%s:%s:rolealias/%s" % (self.region, self.account, alias)
        with self.lock:
            if alias in self.role_aliases:
                raise ApiError("ResourceAlreadyExistsException",
                               "Role alias %s already exists" % alias,
                               resourceId=alias, resourceArn=arn)
            self.role_aliases[alias] = {"roleArn": role, "duration": duration, "arn": arn}
        return {"roleAlias": alias, "roleAliasArn": arn}

    def role_alias(self, alias):
        with self.lock:
            entry = self.role_aliases.get(alias)
            return dict(entry) if entry else None

    def list_attached_policies(self, req):
        target = unquote(req.match.group(1))
        with self.lock:
            return {"policies": [{"policyName": p, "policyArn": self.policy_arn(p)}
                                 for p, v in self.policies.items() if target in v["targets"]]}

    # The data plane's view of the state.

    def active_certificate(self, certificate_id):
        with self.lock:
            record = self.certificates.get(certificate_id or "")
            return dict(record) if record and record["status"] == "ACTIVE" else None

    def active_pems(self):
        with self.lock:
            return [r["certificatePem"] for r in self.certificates.values() if r["status"] == "ACTIVE"]

    def thing_has_principal(self, thing, arn):
        with self.lock:
            return arn in self.things.get(thing, {}).get("principals", [])

    def policy_documents(self, arn):
        with self.lock:
            return [p["document"] for p in self.policies.values() if arn in p["targets"]]

    def attached(self, arn):
        """Whether a thing or a policy has the certificate (lock held)."""
        return any(arn in t["principals"] for t in self.things.values()) or \
            any(arn in p["targets"] for p in self.policies.values())

    def put_policy(self, policy, document, arn):
        with self.lock:
            self.policies.setdefault(policy, {"document": document, "targets": []})
            if arn not in self.policies[policy]["targets"]:
                self.policies[policy]["targets"].append(arn)

    def provisioned_resources(self, certificate_id, resources):
        """What a template's resolved Resources ask for (lock held):
        (thing name or None, its configuration, certificate status,
        [(policy name, document or None)])."""
        thing, config, status, policies = None, None, "ACTIVE", []
        for logical, resource in resources.items():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            props = resource.get("Properties") or {} if kind else {}
            if kind == "AWS::IoT::Thing":
                thing = props.get("ThingName")
                if not isinstance(thing, str) or not re.fullmatch(r"[a-zA-Z0-9:_-]{1,128}", thing):
                    raise ProvisioningError(400, "ResourceRegistrationFailureException",
                                            "ThingName %r is not a valid thing name." % (thing,))
                attributes = props.get("AttributePayload") or None
                config = {"thingTypeName": props.get("ThingTypeName"),
                          "attributePayload": {"attributes": attributes} if attributes else None,
                          "billingGroupName": None}
            elif kind == "AWS::IoT::Certificate":
                if props.get("CertificateId") != certificate_id:
                    raise ProvisioningError(400, "ResourceRegistrationFailureException",
                                            "CertificateId must be the certificate of the ownership token.")
                status = str(props.get("Status", "ACTIVE")).upper()
                if status not in ("ACTIVE", "INACTIVE"):
                    raise ProvisioningError(400, "ResourceRegistrationFailureException",
                                            "Certificate Status %s is not ACTIVE or INACTIVE." % status)
            elif kind == "AWS::IoT::Policy":
                document = props.get("PolicyDocument")
                if document is None and props.get("PolicyName") not in self.policies:
                    raise ProvisioningError(400, "ResourceRegistrationFailureException",
                                            "Policy %s does not exist." % props.get("PolicyName"))
                if isinstance(document, dict):
                    document = json.dumps(document)
                policies.append((props.get("PolicyName") or "%s-%s" % (logical, certificate_id[:16]),
                                 document))
            else:
                raise ProvisioningError(400, "ResourceRegistrationFailureException",
                                        "Resource type %s is not supported by the emulator." % kind)
        return thing, config, status, policies

    def provision(self, certificate_id, resources):
        """RegisterThing's effect: the thing (created or kept), the
        certificate attached to it and to the policies, its status set.
        The thing name or None."""
        with self.lock:
            record = self.certificates.get(certificate_id)
            if record is None:
                raise ProvisioningError(400, "InvalidCertificateOwnershipToken",
                                        "The certificate of the token no longer exists.")
            arn = record["certificateArn"]
            thing, config, status, policies = self.provisioned_resources(certificate_id, resources)
            if thing is not None:
                known = self.things.setdefault(thing, {"config": config, "thingId": str(uuid.uuid4()),
                                                       "principals": []})
                if arn not in known["principals"]:
                    known["principals"].append(arn)
            for policy, document in policies:
                entry = self.policies.setdefault(policy, {"document": document, "targets": []})
                if arn not in entry["targets"]:
                    entry["targets"].append(arn)
            record["status"] = status
            record["lastModifiedDate"] = time.time()
        return thing

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
            ("DELETE", r"/certificates/([^/]+)", "DeleteCertificate", self.delete_certificate),
            ("POST", r"/things/([^/]+)", "CreateThing", self.create_thing),
            ("GET", r"/things/([^/]+)", "DescribeThing", self.describe_thing),
            ("PUT", r"/things/([^/]+)/principals", "AttachThingPrincipal",
             self.attach_thing_principal),
            ("DELETE", r"/things/([^/]+)/principals", "DetachThingPrincipal",
             self.detach_thing_principal),
            ("GET", r"/things/([^/]+)/principals", "ListThingPrincipals",
             self.list_thing_principals),
            ("GET", r"/principals/things", "ListPrincipalThings", self.list_principal_things),
            ("POST", r"/policies/([^/]+)", "CreatePolicy", self.create_policy),
            ("PUT", r"/target-policies/([^/]+)", "AttachPolicy", self.attach_policy),
            ("POST", r"/target-policies/([^/]+)", "DetachPolicy", self.detach_policy),
            ("POST", r"/attached-policies/(.+)", "ListAttachedPolicies",
             self.list_attached_policies),
            ("GET", r"/endpoint", "DescribeEndpoint", self.describe_endpoint),
            ("POST", r"/role-aliases/([^/]+)", "CreateRoleAlias", self.create_role_alias),
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


# --- the MQTT data plane --------------------------------------------------------
#
# A minimal MQTT 3.1.1 server embedded here rather than Debian's mosquitto
# broker in front: AWS IoT's behaviour is in the authentication and
# authorisation (the handshake accepts only the certificates the service
# knows as ACTIVE, an unauthorised CONNECT is dropped without CONNACK, an
# unauthorised PUBLISH closes the connection, the provisioning topics are
# answered by the service itself), and that is in the service's state,
# which a broker plugin would have to reach from another process.

MQTT_CONNECT, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK = 1, 2, 3, 4
MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE, MQTT_UNSUBACK = 8, 9, 10, 11
MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT = 12, 13, 14
MQTT_MAX_PACKET = 128 * 1024          # AWS IoT's message size limit
MQTT_ALPN = "x-amzn-mqtt-ca"
CSR_TOPIC = "$aws/certificates/create-from-csr/json"
PROVISION_TOPIC = re.compile(r"\$aws/provisioning-templates/([^/#+]+)/provision/json")
MQTT_FAULT_MODES = ("disconnect", "connack", "slow", "rejected", "hold", "drop")
MQTT_FAULT_OPERATIONS = ("Connect", "CreateCertificateFromCsr", "RegisterThing")
MQTT_CONTROL = ("/_emulator/templates", "/_emulator/claim", "/_emulator/mqtt-faults",
                "/_emulator/expire-tokens", "/_emulator/mqtt")


class MqttClosed(Exception):
    """The connection is to be closed; the reason goes to the log."""


class ProvisioningError(Exception):
    """A "rejected" answer of the provisioning API."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def payload(self):
        return {"statusCode": self.status, "errorCode": self.code,
                "errorMessage": self.message}


def glob_regex(pattern):
    """An IoT policy resource pattern: '*' any characters, '?' one."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                   for c in pattern)


def as_list(value):
    return value if isinstance(value, list) else [] if value is None else [value]


def expand_variables(pattern, variables):
    """The pattern with ${...} policy variables replaced, or None when one
    of them has no value here (the statement then does not apply)."""
    unresolved = []

    def value(match):
        if variables.get(match.group(1)) is None:
            unresolved.append(match.group(1))
            return ""
        return variables[match.group(1)]
    expanded = re.sub(r"\$\{([^}]*)\}", value, pattern)
    return None if unresolved else expanded


def policy_allows(documents, action, resource, variables):
    """Whether the policy documents allow action on resource: an explicit
    Deny wins, else any Allow.  Action and Resource (strings or lists) with
    '*'/'?' wildcards and the variables given; statements with a Condition,
    NotAction or NotResource are not understood and never apply."""
    allowed = False
    for document in documents:
        try:
            statements = as_list(json.loads(document).get("Statement"))
        except (ValueError, AttributeError):
            continue
        for statement in statements:
            if not isinstance(statement, dict) or {"Condition", "NotAction",
                                                   "NotResource"} & set(statement):
                continue
            if not any(isinstance(a, str) and re.fullmatch(glob_regex(a.lower()), action.lower())
                       for a in as_list(statement.get("Action"))):
                continue
            patterns = [expand_variables(r, variables) for r in as_list(statement.get("Resource"))
                        if isinstance(r, str)]
            if not any(p is not None and re.fullmatch(glob_regex(p), resource) for p in patterns):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def topic_matches(topic_filter, topic):
    """MQTT 3.1.1 topic filter matching ('+', '#'; '$' topics are not
    matched by a leading wildcard)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filters, levels = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(filters):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(filters) == len(levels)


def mqtt_string(data, offset):
    if offset + 2 > len(data):
        raise MqttClosed("malformed packet")
    length = int.from_bytes(data[offset:offset + 2], "big")
    if offset + 2 + length > len(data):
        raise MqttClosed("malformed packet")
    try:
        return data[offset + 2:offset + 2 + length].decode(), offset + 2 + length
    except UnicodeDecodeError:
        raise MqttClosed("malformed packet: a string is not UTF-8") from None


def encode_string(text):
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def encode_packet(kind, flags, body):
    header = bytes([(kind << 4) | flags])
    length, encoded = len(body), b""
    while True:
        length, digit = divmod(length, 128)
        encoded += bytes([digit | (0x80 if length else 0)])
        if not length:
            return header + encoded + body


class MqttLog:
    """DIR/mqtt.jsonl: one JSON line per event, flushed at once."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.entries = []
        self.file = open(path, "a", encoding="utf-8")

    def add(self, connection, event, **fields):
        entry = {"time": datetime.datetime.utcnow().isoformat() + "Z",
                 "connection": connection, "event": event}
        entry.update(fields)
        with self.lock:
            self.entries.append(entry)
            self.file.write(json.dumps(entry) + "\n")
            self.file.flush()
        sys.stderr.write("%s iot-emulator: mqtt #%d %s %s\n" % (
            datetime.datetime.utcnow().strftime("%H:%M:%S"), connection, event,
            " ".join("%s=%s" % kv for kv in fields.items())))
        sys.stderr.flush()

    def all(self):
        with self.lock:
            return list(self.entries)


def parse_mqtt_fault(spec):
    if not isinstance(spec, dict):
        raise ValueError("a fault is a JSON object")
    mode = spec.get("mode", "disconnect")
    if mode not in MQTT_FAULT_MODES:
        raise ValueError("mode must be one of %s" % ", ".join(MQTT_FAULT_MODES))
    operation = spec.get("operation", "Connect" if mode in ("disconnect", "connack") else None)
    if operation is not None and operation not in MQTT_FAULT_OPERATIONS:
        raise ValueError("operation must be one of %s" % ", ".join(MQTT_FAULT_OPERATIONS))
    if mode == "connack" and operation != "Connect":
        raise ValueError("connack faults are for Connect")
    count = int(spec.get("count", 1))
    if count < 1:
        raise ValueError("count must be at least 1")
    return {
        "count": count, "operation": operation, "mode": mode,
        "delay": float(spec.get("delay", 3 if mode == "slow" else 0)),
        "returnCode": int(spec.get("returnCode", 3)),
        "statusCode": int(spec.get("statusCode", 429)),
        "errorCode": spec.get("errorCode", "ThrottlingException"),
        "errorMessage": spec.get("errorMessage", "Rate exceeded"),
    }


class MqttFaults(Faults):
    """Queue of faults for the next MQTT operations."""

    def add(self, specs):
        faults = [parse_mqtt_fault(s) for s in (specs if isinstance(specs, list) else [specs])]
        with self.lock:
            self.queue.extend(faults)
        return len(faults)

    def take(self, operation):
        """A fault without an operation is for either provisioning
        operation, never for Connect."""
        with self.lock:
            for fault in self.queue:
                if fault["operation"] == operation or (
                        fault["operation"] is None and operation != "Connect"):
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self.queue.remove(fault)
                    return dict(fault)
        return None


def resolve_template_value(value, parameters):
    """A provisioning template value: a literal, {"Ref": P},
    {"Fn::Join": [SEP, [...]]} or {"Fn::Sub": "...${P}..."}."""
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), = value.items()
        if function == "Ref":
            if argument not in parameters:
                raise ProvisioningError(400, "InvalidRequestException",
                                        "Parameter %s is required but was not given." % argument)
            return parameters[argument]
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(resolve_template_value(p, parameters)) for p in parts)
        if function == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(resolve_template_value(
                {"Ref": m.group(1)}, parameters)), argument)
    if isinstance(value, dict):
        return {k: resolve_template_value(v, parameters) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_template_value(v, parameters) for v in value]
    return value


def parse_template(spec):
    """A template definition of POST /_emulator/templates."""
    if not isinstance(spec, dict) or not isinstance(spec.get("templateName"), str):
        raise ValueError("a template is {\"templateName\", \"templateBody\", ...}")
    body = spec.get("templateBody")
    if isinstance(body, str):
        body = json.loads(body)
    if not isinstance(body, dict) or not isinstance(body.get("Resources", {}), dict):
        raise ValueError("templateBody must be a provisioning template (JSON object)")
    claims = spec.get("claimCertificateIds")
    if claims is not None and not (isinstance(claims, list) and all(isinstance(c, str) for c in claims)):
        raise ValueError("claimCertificateIds must be a list of certificate ids")
    return {"templateName": spec["templateName"], "templateBody": body,
            "enabled": bool(spec.get("enabled", True)), "claimCertificateIds": claims}


class Provisioning:
    """Fleet provisioning's state: templates and ownership tokens."""

    def __init__(self, service, token_lifetime):
        self.service = service
        self.token_lifetime = token_lifetime
        self.lock = threading.Lock()
        self.templates = {}
        self.tokens = {}          # token -> {"certificateId", "expires", "used"}
        self.claims = 0

    def add_template(self, spec):
        template = parse_template(spec)
        with self.lock:
            self.templates[template["templateName"]] = template
        return {"templateName": template["templateName"]}

    def expire_tokens(self):
        """Every token expires now (and its certificate goes, as AWS's do)."""
        with self.lock:
            for token in self.tokens.values():
                token["expires"] = 0
        return {"expired": self.sweep()}

    def sweep(self):
        """Delete the certificates whose token expired before they were
        registered: AWS deletes a certificate not activated, attached to a
        thing or a policy by then."""
        now, gone = time.time(), 0
        with self.lock:
            expired = [t["certificateId"] for t in self.tokens.values()
                       if t["expires"] <= now and not t["used"]]
        service = self.service
        with service.lock:
            for certificate_id in expired:
                record = service.certificates.get(certificate_id)
                if record is not None and record["status"] == "PENDING_ACTIVATION" and \
                        not service.attached(record["certificateArn"]):
                    del service.certificates[certificate_id]
                    gone += 1
        return gone

    def create_certificate_from_csr(self, payload):
        pem = payload.get("certificateSigningRequest")
        if not isinstance(pem, str) or not pem:
            raise ProvisioningError(400, "InvalidRequestException",
                                    "certificateSigningRequest is required.")
        try:
            public_key = csr_public_key(pem)
        except ApiError as e:
            raise ProvisioningError(400, "InvalidRequestException", e.message) from None
        record = self.service.store(self.service.pki.issue(public_key), "PENDING_ACTIVATION")
        self.service.keep_csr(pem)
        token = base64.b64encode(os.urandom(96)).decode()
        with self.lock:
            self.tokens[token] = {"certificateId": record["certificateId"],
                                  "expires": time.time() + self.token_lifetime, "used": False}
        return {"certificateId": record["certificateId"], "certificatePem": record["certificatePem"],
                "certificateOwnershipToken": token}

    def token_entry(self, token):
        """The entry of a token still valid (lock held), or raise."""
        if not token:
            raise ProvisioningError(400, "InvalidCertificateOwnershipToken",
                                    "Certificate ownership token cannot be empty.")
        entry = self.tokens.get(token) if isinstance(token, str) else None
        if entry is None or entry["used"] or entry["expires"] <= time.time():
            raise ProvisioningError(400, "InvalidCertificateOwnershipToken",
                                    "The certificate ownership token is invalid, "
                                    "already used or expired.")
        return entry

    def template(self, name_, claim_id):
        with self.lock:
            template = self.templates.get(name_)
        if template is None or not template["enabled"]:
            raise ProvisioningError(404, "ResourceNotFoundException",
                                    "The provisioning template %s does not exist." % name_)
        if template["claimCertificateIds"] is not None and claim_id not in template["claimCertificateIds"]:
            raise ProvisioningError(403, "UnauthorizedException",
                                    "The claim certificate may not use template %s." % name_)
        return template["templateBody"]

    def register_thing(self, name_, payload, claim_id):
        body = self.template(name_, claim_id)
        given = payload.get("parameters") or {}
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise ProvisioningError(400, "InvalidRequestException",
                                    "parameters must map names to strings.")
        parameters = {k: v["Default"] for k, v in (body.get("Parameters") or {}).items()
                      if isinstance(v, dict) and "Default" in v}
        parameters.update(given)
        self.sweep()
        token = payload.get("certificateOwnershipToken")
        # One registration per token: the lock is held until it is used up.
        with self.lock:
            entry = self.token_entry(token)
            parameters["AWS::IoT::Certificate::Id"] = entry["certificateId"]
            resources = resolve_template_value(body.get("Resources") or {}, parameters)
            configuration = resolve_template_value(body.get("DeviceConfiguration") or {}, parameters)
            thing = self.service.provision(entry["certificateId"], resources)
            entry["used"] = True
        return {"deviceConfiguration": configuration, "thingName": thing}


class MqttConnection:
    """One client connection, served by one thread (reads and writes of a
    TLS connection stay in one thread; other connections hand it messages
    through its queue)."""

    def __init__(self, broker, sock, number):
        self.broker = broker
        self.sock = sock
        self.number = number
        self.client_id = None
        self.certificate_id = None
        self.certificate_arn = None
        self.subscriptions = {}
        self.outbox = []
        self.outbox_lock = threading.Lock()
        self.wake_r, self.wake_w = socket.socketpair()
        self.packet_id = 0
        self.keep_alive = 0
        self.closing = None

    def log(self, event, **fields):
        self.broker.log.add(self.number, event, **fields)

    # --- I/O

    def recv_exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise MqttClosed("client closed the connection")
            data += chunk
        return data

    def read_packet(self):
        first = self.recv_exact(1)[0]
        length, shift = 0, 0
        for _ in range(4):
            digit = self.recv_exact(1)[0]
            length |= (digit & 0x7f) << shift
            shift += 7
            if not digit & 0x80:
                break
        else:
            raise MqttClosed("malformed packet: remaining length")
        if length > MQTT_MAX_PACKET:
            raise MqttClosed("packet of %d bytes exceeds the limit" % length)
        return first >> 4, first & 0x0f, self.recv_exact(length)

    def send(self, kind, flags, body=b""):
        self.sock.sendall(encode_packet(kind, flags, body))

    def deliver(self, topic, payload, qos):
        """Queue a message for this connection (any thread)."""
        with self.outbox_lock:
            self.outbox.append((topic, payload, qos))
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass

    def close_from_outside(self, reason):
        self.closing = reason
        try:
            self.wake_w.send(b"x")
        except OSError:
            pass

    def flush_outbox(self):
        with self.outbox_lock:
            messages, self.outbox = self.outbox, []
        for topic, payload, qos in messages:
            body = encode_string(topic)
            if qos:
                self.packet_id = self.packet_id % 65535 + 1
                body += self.packet_id.to_bytes(2, "big")
            self.send(MQTT_PUBLISH, qos << 1, body + payload)
            self.log("deliver", clientId=self.client_id, topic=topic, qos=qos, bytes=len(payload))

    # --- the connection's life

    def serve(self):
        reason = "closed"
        try:
            self.handshake()
            self.loop()
        except MqttClosed as e:
            reason = str(e)
        except (ssl.SSLError, OSError) as e:
            reason = "connection error: %s" % e
        finally:
            # Logged before the client can see the connection end.
            self.log("close", clientId=self.client_id, certificateId=self.certificate_id,
                     reason=reason)
            self.broker.forget(self)
            for s in (self.sock, self.wake_r, self.wake_w):
                try:
                    s.close()
                except OSError:
                    pass

    def handshake(self):
        """TLS with a client certificate the service knows as ACTIVE: the
        context trusts exactly those certificates, so any other fails the
        handshake with a TLS alert, before any MQTT byte is read."""
        raw = self.sock
        raw.settimeout(30)
        try:
            self.sock = self.broker.tls_context().wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.log("tls-refused", reason=getattr(e, "reason", None) or str(e),
                     detail=str(e))
            raise MqttClosed("TLS handshake failed") from None
        der = self.sock.getpeercert(binary_form=True)
        self.certificate_id = hashlib.sha256(der).hexdigest() if der else None
        record = self.broker.service.active_certificate(self.certificate_id)
        if record is None:  # the status changed during the handshake
            self.log("tls-refused", reason="certificate not ACTIVE", certificateId=self.certificate_id)
            raise MqttClosed("certificate not ACTIVE")
        self.certificate_arn = record["certificateArn"]
        self.log("tls", certificateId=self.certificate_id, alpn=self.sock.selected_alpn_protocol(),
                 tlsVersion=self.sock.version())

    def loop(self):
        kind, flags, body = self.read_packet()
        if kind != MQTT_CONNECT:
            raise MqttClosed("first packet is not CONNECT")
        self.connect(body)
        last = time.monotonic()
        while True:
            if self.closing:
                raise MqttClosed(self.closing)
            self.flush_outbox()
            limit = self.keep_alive * 1.5 if self.keep_alive else 1800
            remaining = last + limit - time.monotonic()
            if remaining <= 0:
                raise MqttClosed("keep-alive timeout")
            if not self.sock.pending():
                readable, _, _ = select.select([self.sock, self.wake_r], [], [], remaining)
                if self.wake_r in readable:
                    self.wake_r.recv(4096)
                if self.sock not in readable:
                    continue
            kind, flags, body = self.read_packet()
            last = time.monotonic()
            self.dispatch(kind, flags, body)

    def dispatch(self, kind, flags, body):
        if kind == MQTT_PUBLISH:
            self.publish(flags, body)
        elif kind == MQTT_SUBSCRIBE:
            self.subscribe(body)
        elif kind == MQTT_UNSUBSCRIBE:
            self.unsubscribe(body)
        elif kind == MQTT_PINGREQ:
            self.send(MQTT_PINGRESP, 0)
        elif kind == MQTT_PUBACK:
            pass  # deliveries are not retried
        elif kind == MQTT_DISCONNECT:
            raise MqttClosed("client sent DISCONNECT")
        else:
            raise MqttClosed("unexpected packet type %d" % kind)

    # --- CONNECT

    def parse_connect(self, body):
        protocol, offset = mqtt_string(body, 0)
        if offset + 4 > len(body):
            raise MqttClosed("malformed CONNECT")
        level, flags = body[offset], body[offset + 1]
        keep_alive = int.from_bytes(body[offset + 2:offset + 4], "big")
        client_id, offset = mqtt_string(body, offset + 4)
        return protocol, level, flags, keep_alive, client_id

    def connect(self, body):
        protocol, level, flags, keep_alive, client_id = self.parse_connect(body)
        self.keep_alive = keep_alive
        if (protocol, level) != ("MQTT", 4):
            self.log("connect", clientId=client_id, certificateId=self.certificate_id,
                     result="unacceptable protocol %s level %d" % (protocol, level))
            self.send(MQTT_CONNACK, 0, b"\x00\x01")
            raise MqttClosed("unacceptable protocol version")
        if not client_id:
            client_id = "emulator-" + uuid.uuid4().hex[:12]
        self.client_id = client_id
        fault = self.broker.faults.take("Connect")
        if fault:
            time.sleep(fault["delay"])
        if fault and fault["mode"] == "disconnect":
            self.log("connect", clientId=client_id, certificateId=self.certificate_id,
                     result="fault: disconnected without CONNACK")
            raise MqttClosed("fault: disconnect after CONNECT")
        if fault and fault["mode"] == "connack":
            self.log("connect", clientId=client_id, certificateId=self.certificate_id,
                     result="fault: CONNACK return code %d" % fault["returnCode"])
            self.send(MQTT_CONNACK, 0, bytes([0, fault["returnCode"]]))
            raise MqttClosed("fault: CONNACK refusal")
        if not self.allowed("iot:Connect", "client/" + client_id):
            # AWS IoT does not answer an unauthorised CONNECT: it closes.
            self.log("connect", clientId=client_id, certificateId=self.certificate_id,
                     result="not authorized: no policy allows iot:Connect")
            raise MqttClosed("not authorized to connect as %s" % client_id)
        self.broker.register(self)
        self.log("connect", clientId=client_id, certificateId=self.certificate_id,
                 keepAlive=keep_alive, cleanSession=bool(flags & 0x02), result="accepted")
        self.send(MQTT_CONNACK, 0, b"\x00\x00")

    def allowed(self, action, resource):
        service = self.broker.service
        variables = {
            "iot:ClientId": self.client_id,
            "iot:Connection.Thing.ThingName":
                self.client_id if service.thing_has_principal(self.client_id, self.certificate_arn) else None,
        }
        return policy_allows(service.policy_documents(self.certificate_arn), action,
                             "arn:aws:iot:%s:%s:%s" % (service.region, service.account, resource),
                             variables)

    # --- SUBSCRIBE, UNSUBSCRIBE

    def subscribe(self, body):
        packet_id, offset, granted = body[:2], 2, []
        while offset < len(body):
            topic_filter, offset = mqtt_string(body, offset)
            if offset >= len(body):
                raise MqttClosed("malformed SUBSCRIBE")
            qos = body[offset] & 0x03
            offset += 1
            if self.allowed("iot:Subscribe", "topicfilter/" + topic_filter):
                self.subscriptions[topic_filter] = min(qos, 1)
                granted.append(min(qos, 1))
            else:
                granted.append(0x80)
            self.log("subscribe", clientId=self.client_id, topicFilter=topic_filter, qos=qos,
                     granted=granted[-1])
        self.send(MQTT_SUBACK, 0, packet_id + bytes(granted))

    def unsubscribe(self, body):
        packet_id, offset = body[:2], 2
        while offset < len(body):
            topic_filter, offset = mqtt_string(body, offset)
            self.subscriptions.pop(topic_filter, None)
            self.log("unsubscribe", clientId=self.client_id, topicFilter=topic_filter)
        self.send(MQTT_UNSUBACK, 0, packet_id)

    def wants(self, topic):
        """The QoS this connection receives topic at, or None."""
        # (called from other connections' threads: iterate over a copy)
        levels = [q for f, q in tuple(self.subscriptions.items()) if topic_matches(f, topic)]
        if not levels or not self.allowed("iot:Receive", "topic/" + topic):
            return None
        return max(levels)

    # --- PUBLISH

    def publish(self, flags, body):
        qos = (flags >> 1) & 0x03
        topic, offset = mqtt_string(body, 0)
        packet_id = b""
        if qos:
            packet_id, offset = body[offset:offset + 2], offset + 2
        payload = body[offset:]
        self.log("publish", clientId=self.client_id, topic=topic, qos=qos, bytes=len(payload))
        if qos > 1:
            raise MqttClosed("QoS 2 is not supported")
        if "+" in topic or "#" in topic or not self.allowed("iot:Publish", "topic/" + topic):
            # AWS IoT closes an MQTT 3.1.1 connection that publishes where
            # its policy does not allow.
            raise MqttClosed("not authorized to publish to %s" % topic)
        if qos:
            self.send(MQTT_PUBACK, 0, packet_id)
        if topic == CSR_TOPIC or PROVISION_TOPIC.fullmatch(topic):
            self.provision(topic, payload)
        elif topic.startswith("$aws/"):
            pass  # other reserved topics: nothing answers here
        else:
            self.broker.route(topic, payload, qos)

    def provision(self, topic, payload):
        match = PROVISION_TOPIC.fullmatch(topic)
        operation = "RegisterThing" if match else "CreateCertificateFromCsr"
        fault = self.broker.faults.take(operation)
        mode = fault["mode"] if fault else None
        if fault:
            time.sleep(fault["delay"])
        if mode == "disconnect":
            self.log("provision", operation=operation, result="fault: disconnected")
            raise MqttClosed("fault: disconnect on %s" % operation)
        try:
            if mode == "rejected":
                raise ProvisioningError(fault["statusCode"], fault["errorCode"], fault["errorMessage"])
            try:
                request = json.loads(payload)
            except (ValueError, UnicodeDecodeError):
                request = None
            if not isinstance(request, dict):
                raise ProvisioningError(400, "InvalidPayload", "The payload is not a JSON object.")
            provisioning = self.broker.provisioning
            if match:
                answer = provisioning.register_thing(match.group(1), request, self.certificate_id)
                fields = {"thingName": answer["thingName"]}
            else:
                answer = provisioning.create_certificate_from_csr(request)
                fields = {"certificateId": answer["certificateId"]}
            outcome = "accepted"
        except ProvisioningError as e:
            answer, fields, outcome = e.payload(), e.payload(), "rejected"
        self.log("provision", operation=operation, clientId=self.client_id, result=outcome,
                 fault=mode, **fields)
        if mode == "hold":
            self.broker.holds.hold()
        if mode == "drop":
            return
        reply = topic + "/" + outcome
        qos = self.wants(reply)
        if qos is not None:
            self.deliver(reply, json.dumps(answer).encode(), qos)


class MqttBroker:
    """The listener: accepts TCP connections on loopback and serves each
    in its own thread."""

    def __init__(self, args, pki, service, holds):
        self.pki = pki
        self.service = service
        self.holds = holds
        self.faults = MqttFaults()
        self.provisioning = Provisioning(service, args.token_lifetime)
        self.log = MqttLog(os.path.join(args.dir, "mqtt.jsonl"))
        self.lock = threading.Lock()
        self.connections = {}     # client id -> connection
        self.count = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", args.mqtt_port))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]

    def tls_context(self):
        """A server context trusting exactly the certificates ACTIVE now,
        each as its own trust anchor (whoever issued it: the emulator, a
        registered CA or none)."""
        ctx = self.pki.ssl_context()
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        ctx.set_alpn_protocols([MQTT_ALPN])
        pems = self.service.active_pems()
        if pems:
            ctx.load_verify_locations(cadata="".join(pems))
        return ctx

    def sweep_forever(self):
        """Expired tokens' certificates go within a second, as on AWS
        they go when the token expires, whoever asks."""
        while True:
            time.sleep(0.5)
            self.provisioning.sweep()

    def serve_forever(self):
        threading.Thread(target=self.sweep_forever, daemon=True).start()
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.count += 1
                number = self.count
            connection = MqttConnection(self, sock, number)
            threading.Thread(target=connection.serve, daemon=True).start()

    def register(self, connection):
        """AWS IoT allows one connection per client id: the older one goes."""
        with self.lock:
            old = self.connections.get(connection.client_id)
            self.connections[connection.client_id] = connection
        if old is not None:
            old.close_from_outside("another connection with the same client id")

    def forget(self, connection):
        with self.lock:
            if self.connections.get(connection.client_id) is connection:
                del self.connections[connection.client_id]

    def route(self, topic, payload, qos):
        with self.lock:
            connections = list(self.connections.values())
        for connection in connections:
            wanted = connection.wants(topic)
            if wanted is not None:
                connection.deliver(topic, payload, min(qos, wanted))

    def make_claim(self, spec):
        """A claim certificate and key (EC P-256, ACTIVE), with a policy
        allowing only the provisioning topics (of the given templates, or
        any)."""
        spec = spec if isinstance(spec, dict) else {}
        templates = spec.get("templates") or ["*"]
        key = ec.generate_private_key(ec.SECP256R1())
        record = self.service.store(self.pki.issue(key.public_key()), "ACTIVE")
        prefix = "arn:aws:iot:%s:%s:" % (self.service.region, self.service.account)
        topics = [CSR_TOPIC] + ["$aws/provisioning-templates/%s/provision/json" % t for t in templates]
        replies = [t + "/" + o for t in topics for o in ("accepted", "rejected")]
        document = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iot:Connect", "Resource": prefix + "client/*"},
            {"Effect": "Allow", "Action": "iot:Publish", "Resource": [prefix + "topic/" + t for t in topics]},
            {"Effect": "Allow", "Action": "iot:Receive", "Resource": [prefix + "topic/" + t for t in replies]},
            {"Effect": "Allow", "Action": "iot:Subscribe",
             "Resource": [prefix + "topicfilter/" + t for t in replies]}]})
        with self.provisioning.lock:
            self.provisioning.claims += 1
            policy = spec.get("policyName") or "claim-%d" % self.provisioning.claims
        self.service.put_policy(policy, document, record["certificateArn"])
        return {"certificateId": record["certificateId"], "certificateArn": record["certificateArn"],
                "certificatePem": record["certificatePem"], "policyName": policy,
                "privateKey": key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()).decode()}

    def close(self):
        self.listener.close()


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
            elif req.path in MQTT_CONTROL:
                obj = self.mqtt_control(req)
                if obj is None:
                    return
            else:
                self.send_json(404, {"message": "no such control endpoint"},
                               request_id=req.request_id)
                return
        except (ValueError, TypeError) as e:
            self.send_json(400, {"message": "bad request: %s" % e}, request_id=req.request_id)
            return
        self.send_json(200, obj, request_id=req.request_id)

    def mqtt_control(self, req):
        """The data plane's control calls; None when answered here."""
        broker = self.server.broker
        if broker is None:
            self.send_json(404, {"message": "the MQTT listener is off (start with --mqtt)"},
                           request_id=req.request_id)
            return None
        key = (req.method, req.path)
        body = json.loads(req.body or b"null")
        if key == ("POST", "/_emulator/templates"):
            return broker.provisioning.add_template(body)
        if key == ("GET", "/_emulator/templates"):
            with broker.provisioning.lock:
                return list(broker.provisioning.templates.values())
        if key == ("POST", "/_emulator/claim"):
            return broker.make_claim(body)
        if key == ("POST", "/_emulator/mqtt-faults"):
            return {"queued": broker.faults.add(body)}
        if key == ("DELETE", "/_emulator/mqtt-faults"):
            broker.faults.clear()
            return {"queued": 0}
        if key == ("POST", "/_emulator/expire-tokens"):
            return broker.provisioning.expire_tokens()
        if key == ("GET", "/_emulator/mqtt"):
            return broker.log.all()
        self.send_json(405, {"message": "method not allowed"}, request_id=req.request_id)
        return None

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


# --- the credentials provider -------------------------------------------------

class CredentialsHandler(BaseHTTPRequestHandler):
    """GET /role-aliases/ALIAS/credentials over mutual TLS."""

    protocol_version = "HTTP/1.1"

    def deny(self, status, message):
        self.reply(status, {"message": message})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        match = re.fullmatch(r"/role-aliases/([^/?]+)/credentials", self.path)
        if match is None:
            self.deny(404, "Not Found")
            return
        service = self.server.service
        der = self.connection.getpeercert(binary_form=True) or b""
        record = service.active_certificate(hashlib.sha256(der).hexdigest())
        thing = self.headers.get("x-amzn-iot-thingname")
        alias = service.role_alias(unquote(match.group(1)))
        if record is None:
            self.deny(403, "Access Denied")
        elif alias is None:
            self.deny(403, "Role alias does not exist or is not allowed")
        elif thing is not None and not service.thing_has_principal(thing, record["certificateArn"]):
            self.deny(403, "Invalid thing name passed")
        else:
            self.reply(200, {"credentials": self.server.issue(alias["duration"])})

    def log_message(self, fmt, *args):
        sys.stderr.write("iot-emulator credentials: %s\n" % (fmt % args))


class CredentialsServer(ThreadingHTTPServer):
    """Its own port; each connection's TLS context trusts exactly the
    certificates ACTIVE at that moment (as the MQTT broker does).  Issued
    credentials are added to the API's verifier, with their token."""
    daemon_threads = True

    def __init__(self, port, pki, service, verifier):
        super().__init__(("127.0.0.1", port), CredentialsHandler)
        self.pki, self.service, self.verifier = pki, service, verifier

    def get_request(self):
        sock, address = self.socket.accept()
        ctx = self.pki.ssl_context()
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        pems = self.service.active_pems()
        if pems:
            ctx.load_verify_locations(cadata="".join(pems))
        sock.settimeout(30)
        return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address):
        sys.stderr.write("iot-emulator credentials: connection from %s: %r\n"
                         % (client_address[0], sys.exc_info()[1]))

    def issue(self, duration):
        credential = {"accessKeyId": "ASIA" + secrets.token_hex(8).upper(),
                      "secretAccessKey": secrets.token_urlsafe(30),
                      "sessionToken": secrets.token_urlsafe(96),
                      "expiration": (utcnow() + datetime.timedelta(seconds=duration))
                      .strftime("%Y-%m-%dT%H:%M:%SZ")}
        self.verifier.credentials[credential["accessKeyId"]] = credential
        return dict(credential)


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
    server.broker = MqttBroker(args, pki, server.service, server.holds) if args.mqtt else None
    server.credentials = CredentialsServer(args.credentials_port, pki, server.service,
                                           server.verifier)
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
    parser.add_argument("--mqtt", action="store_true",
                        help="also serve MQTT over TLS (the data plane, fleet provisioning)")
    parser.add_argument("--mqtt-port", type=int, default=0, help="0: any free port")
    parser.add_argument("--credentials-port", type=int, default=0,
                        help="the credentials provider's port (0: any free port)")
    parser.add_argument("--token-lifetime", type=float, default=3600,
                        help="seconds a certificateOwnershipToken stays valid (AWS: one hour)")
    args = parser.parse_args(argv)
    if args.mqtt and args.workers > 1:
        parser.error("--mqtt needs the state in one process: not with --workers")
    return args


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
    mqtt_port_file = os.path.join(args.dir, "mqtt-port")
    if server.broker is not None:
        threading.Thread(target=server.broker.serve_forever, daemon=True).start()
        # Before DIR/port: a test that sees the port sees this one too.
        write_file(mqtt_port_file, "%d\n" % server.broker.port)
        sys.stderr.write("iot-emulator: MQTT on mqtts://127.0.0.1:%d\n" % server.broker.port)
    threading.Thread(target=server.credentials.serve_forever, daemon=True).start()
    credentials_port_file = os.path.join(args.dir, "credentials-port")
    write_file(credentials_port_file, "%d\n" % server.credentials.server_address[1])
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
        if server.broker is not None:
            server.broker.close()
        server.credentials.server_close()
        for path in (port_file, mqtt_port_file, credentials_port_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    sys.stderr.write("iot-emulator: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
