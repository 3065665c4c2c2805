# SPDX-License-Identifier: BSD-2-Clause
# A fleet provisioning client on python3-paho-mqtt: one MQTT connection
# (EMU_MQTT_PORT, EMU_CA) with CERT and KEY as CLIENTID, then STEPs:
#   csr:FILE                   CreateCertificateFromCsr with the PEM CSR in FILE
#   token:TOKEN                the token of the next register (default: the
#                              last accepted csr's)
#   register:TEMPLATE:PARAMS   RegisterThing, PARAMS a JSON object
#   publish:TOPIC              a QoS 1 publish elsewhere
# One JSON line per answer on stdout: {"step", "result", "payload", "elapsed"}.
# Exit 0 when every step was answered, 3 when the connection was refused or
# lost (the reason on stderr), 4 on a timeout.
import json, os, sys, threading, time
import paho.mqtt.client as mqtt

cert, key, client_id, steps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
answers, connected, lost = [], threading.Event(), threading.Event()
cond = threading.Condition()
state = {"rc": None, "granted": {}}

def on_connect(client, userdata, flags, rc):
    state["rc"] = rc
    connected.set()

def on_disconnect(client, userdata, rc):
    lost.set()
    connected.set()
    with cond:
        cond.notify_all()

def on_message(client, userdata, message):
    with cond:
        answers.append((message.topic, json.loads(message.payload)))
        cond.notify_all()

def on_subscribe(client, userdata, mid, granted):
    with cond:
        state["granted"][mid] = granted
        cond.notify_all()

def fail(code, why):
    sys.stderr.write("fleet.py: %s\n" % why)
    sys.exit(code)

def wait_for(predicate, what, timeout=15):
    deadline = time.monotonic() + timeout
    with cond:
        while not predicate():
            if lost.is_set():
                fail(3, "connection lost while waiting for %s" % what)
            left = deadline - time.monotonic()
            if left <= 0:
                fail(4, "timeout waiting for %s" % what)
            cond.wait(left)

client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311)
client.tls_set(ca_certs=os.environ["EMU_CA"], certfile=cert, keyfile=key)
client.on_connect, client.on_disconnect = on_connect, on_disconnect
client.on_message, client.on_subscribe = on_message, on_subscribe
try:
    client.connect("127.0.0.1", int(os.environ["EMU_MQTT_PORT"]), keepalive=30)
except Exception as e:
    fail(3, "connect: %r" % e)
client.loop_start()
if not connected.wait(15):
    fail(4, "timeout waiting for CONNACK")
if lost.is_set() or state["rc"] != 0:
    fail(3, "connection refused (CONNACK %s)" % state["rc"])

def request(step, topic, payload):
    mids = []
    for outcome in ("accepted", "rejected"):
        rc, mid = client.subscribe(topic + "/" + outcome, qos=1)
        mids.append(mid)
    wait_for(lambda: all(m in state["granted"] for m in mids), "SUBACK")
    if any(q == 0x80 for m in mids for q in state["granted"][m]):
        fail(3, "subscription refused")
    seen, start = len(answers), time.monotonic()
    client.publish(topic, json.dumps(payload), qos=1)
    wait_for(lambda: len(answers) > seen, "the answer to " + step)
    reply_topic, body = answers[seen]
    result = reply_topic.rsplit("/", 1)[1]
    print(json.dumps({"step": step, "result": result, "payload": body,
                      "elapsed": round(time.monotonic() - start, 3)}), flush=True)
    return result, body

token = None
for step in steps:
    kind, _, rest = step.partition(":")
    if kind == "csr":
        result, body = request(step, "$aws/certificates/create-from-csr/json",
                               {"certificateSigningRequest": open(rest).read()})
        if result == "accepted":
            token = body["certificateOwnershipToken"]
    elif kind == "token":
        token = rest
    elif kind == "register":
        template, _, params = rest.partition(":")
        request(kind, "$aws/provisioning-templates/%s/provision/json" % template,
                {"certificateOwnershipToken": token, "parameters": json.loads(params or "{}")})
    elif kind == "publish":
        info = client.publish(rest, "x", qos=1)
        deadline = time.monotonic() + 10
        while not info.is_published() and not lost.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        if lost.is_set():
            fail(3, "connection lost after publishing to %s" % rest)
        print(json.dumps({"step": step, "result": "published"}), flush=True)
client.disconnect()
client.loop_stop()
