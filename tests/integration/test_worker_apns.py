"""test_worker_apns.py -- herald-worker-apns against herald-sim, with
delivery batches produced straight to herald.deliver.apns: HTTP/2 requests
with the apns-* headers and one provider JWT reused for every send, every
error class, Retry-After honoured, ExpiredProviderToken without minting
more often than every 20 minutes, the token-removal circuit breaker, the
sandbox environment, certificate authentication (PEM and .p12), and
nothing lost across kill -9 or SIGTERM."""
import datetime
import os
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from simkit import Sim
from workerkit import Rig, crash_scenario, rig_fixture, tag, token, uid

rig = rig_fixture("apns")


def test_success_request_shape_and_feedback(rig):
    u = uid()
    pre = "00" + tag()
    toks = [token("apns", pre) for _ in range(3)]
    exp = int(time.time() * 1000) + 3600 * 1000
    rig.send(u, toks, expire_at_ms=exp, notification={
        "headers": {"apns-push-type": "alert", "apns-priority": "10",
                    "apns-collapse-id": "c-1", "x-not-apns": "dropped"},
        "payload": {"aps": {"alert": {"title": "Hi", "body": "there"}}, "k": 1}})
    rig.wait_records(3, token_prefix=pre)
    rec = rig.records(token=toks[0])[0]
    assert rec["proto"] == "h2" and rec["authority"] == "api.push.apple.com"
    assert rec["path"] == "/3/device/" + toks[0]
    h = rec["headers"]
    assert h["apns-push-type"] == "alert" and h["apns-priority"] == "10"
    assert h["apns-collapse-id"] == "c-1" and "x-not-apns" not in h
    assert h["apns-topic"] == rig.sim.creds["HERALD_SIM_APNS_TOPIC"]
    assert h["apns-expiration"] == str(exp // 1000)
    assert h["authorization"].startswith("bearer ey")
    assert rec["json"] == {"aps": {"alert": {"title": "Hi", "body": "there"}}, "k": 1}
    assert rec["identity"] == "%s/%s" % (rig.sim.creds["HERALD_SIM_APNS_TEAM_ID"],
                                         rig.sim.creds["HERALD_SIM_APNS_KEY_ID"])
    assert rig.outcomes(u, 3) == {t: ("sent", "") for t in toks}


def test_every_error_class(rig):
    u = uid()
    toks = {
        "unregistered": token("apns", "dead"),       # 410 Unregistered
        "bad": token("apns", "bad0"),                # 400 BadDeviceToken
        "expired": token("apns", "ae24"),            # 410 ExpiredToken
        "not_for_topic": token("apns", "ae06"),      # 400 DeviceTokenNotForTopic
        "collapse": token("apns", "ae00"),           # 400 BadCollapseId
        "retry": token("apns", "0500"),              # 500, every time
        "config": token("apns", "ae05"),             # 400 BadTopic
        "ok": token("apns"),
    }
    rig.send(u, list(toks.values()))
    out = rig.outcomes(u, len(toks), timeout=40)
    assert out[toks["unregistered"]] == ("token_invalid", "Unregistered")
    assert out[toks["bad"]] == ("token_invalid", "BadDeviceToken")
    assert out[toks["expired"]] == ("token_invalid", "ExpiredToken")
    assert out[toks["not_for_topic"]] == ("token_invalid", "DeviceTokenNotForTopic")
    assert out[toks["collapse"]] == ("failed", "BadCollapseId")
    assert out[toks["retry"]] == ("failed", "InternalServerError")
    assert len(rig.records(token=toks["retry"])) == 3
    assert out[toks["config"]] == ("failed", "BadTopic")
    assert out[toks["ok"]] == ("sent", "")
    fb = [f for f in rig.feedback(u, len(toks)) if f["token"] == toks["unregistered"]][0]
    assert fb["http_status"] == 410
    assert rig.dlq(u)


def test_retry_after_is_honoured(rig):
    t = token("apns", "00" + tag())
    rig.sim.rule(provider="apns", token_prefix=t, error="ServiceUnavailable",
                 retry_after=2, count=1)
    u = uid()
    rig.send(u, [t])
    fb = rig.feedback(u, 1, timeout=30)[0]
    assert (fb["outcome"], fb["attempt"]) == ("sent", 1)
    first, second = rig.records(token=t)
    assert first["status"] == 503
    delay = second["time_ms"] - first["time_ms"]
    assert 2000 <= delay < 2000 + 400 + 1500, delay


def test_expired_provider_token_keeps_a_young_jwt(rig):
    """ExpiredProviderToken on a JWT younger than 20 minutes: minting a new
    one would only earn TooManyProviderTokenUpdates, so the same JWT is
    tried once more (and works: the simulator refused it once)."""
    t = token("apns", "00" + tag())
    rig.sim.rule(provider="apns", token_prefix=t, error="ExpiredProviderToken", count=1)
    u = uid()
    rig.send(u, [t])
    assert rig.outcomes(u, 1)[t] == ("sent", "")
    first, second = rig.records(token=t)
    assert first["outcome"] == "ExpiredProviderToken" and second["outcome"] == "success"
    assert first["headers"]["authorization"] == second["headers"]["authorization"]


def test_expired_is_not_sent_and_reported(rig):
    u = uid()
    t = token("apns", "00" + tag())
    rig.send(u, [t], expire_at_ms=int(time.time() * 1000) - 1)
    assert rig.outcomes(u, 1)[t][0] == "expired"
    assert rig.records(token=t) == []


def test_one_jwt_for_every_send(stack):
    r = Rig(stack, "apns")
    u = uid()
    toks = [token("apns") for _ in range(300)]
    r.send(u, toks)
    r.wait_records(300, accepted=1, timeout=60)
    auths = {rec["headers"]["authorization"] for rec in r.records()}
    assert len(auths) == 1
    assert r.sim.counts()["apns"]["outcomes"] == {"success": 300}


def test_breaker_keeps_tokens_when_everything_looks_invalid(stack):
    """A wrong environment makes every token BadDeviceToken: after 20 such
    answers and no success, tokens are reported failed, not invalid."""
    r = Rig(stack, "apns")
    u = uid()
    toks = [token("apns", "bad0") for _ in range(30)]
    r.send(u, toks)
    fbs = r.feedback(u, 30)
    outcomes = [f["outcome"] for f in fbs]
    assert outcomes.count("token_invalid") == 19
    assert outcomes.count("failed") == 11
    assert r.metric("herald_push_breaker_open", provider="apns") == 1


def test_sandbox_environment(stack):
    r = Rig(stack, "apns", HERALD_WORKER_APNS_ENVIRONMENT="sandbox")
    u = uid()
    t = token("apns")
    r.send(u, [t])
    assert r.outcomes(u, 1)[t] == ("sent", "")
    rec = r.records(token=t)[0]
    assert rec["authority"] == "api.sandbox.push.apple.com"
    assert "apns-unique-id" in rec["response"]["headers"]


# certificate authentication: no provider JWT, the TLS client certificate
NO_TOKEN = {"HERALD_WORKER_APNS_KEY_FILE": None, "HERALD_WORKER_APNS_KEY_ID": None,
            "HERALD_WORKER_APNS_TEAM_ID": None}


def untrusted_cert(topic):
    """A self-signed push certificate for topic, PEM (certificate + key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apple Push Services: " + topic),
                      x509.NameAttribute(NameOID.USER_ID, topic)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    fd, path = tempfile.mkstemp(suffix=".pem")
    with os.fdopen(fd, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return path


def test_certificate_authentication_pem_and_p12(stack):
    """.pem (certificate + key) and password-protected .p12: every push
    goes out on the certificate connection without an authorization
    header, apns-topic from the configuration; the simulator identifies
    the sender by the certificate's topic."""
    kafka = stack.kafka()
    sim = Sim(stack, tempfile.mkdtemp(prefix="herald-sim-"))
    creds = sim.creds
    for cert in ({"HERALD_WORKER_APNS_CERT_FILE": creds["HERALD_SIM_APNS_CERT_FILE"]},
                 {"HERALD_WORKER_APNS_CERT_FILE": creds["HERALD_SIM_APNS_CERT_P12_FILE"],
                  "HERALD_WORKER_APNS_CERT_TYPE": "P12",
                  "HERALD_WORKER_APNS_CERT_PASSWORD": creds["HERALD_SIM_APNS_CERT_PASSWORD"]}):
        r = Rig(stack, "apns", kafka=kafka, sim=sim, **dict(NO_TOKEN, **cert))
        u = uid()
        pre = "00" + tag()
        toks = [token("apns", pre) for _ in range(20)]
        r.send(u, toks)
        assert r.outcomes(u, 20) == {t: ("sent", "") for t in toks}
        recs = r.records(token_prefix=pre)
        assert len(recs) == 20
        for rec in recs:
            assert rec["identity"] == "cert/" + creds["HERALD_SIM_APNS_TOPIC"]
            assert "authorization" not in rec["headers"]
            assert rec["headers"]["apns-topic"] == creds["HERALD_SIM_APNS_TOPIC"]
        assert r.worker.stop() == 0


def test_untrusted_certificate_is_a_configuration_error(stack):
    """A certificate APNs does not trust (here: self-signed) is answered
    403 BadCertificate: reported failed, the token kept, nothing sent."""
    pem = untrusted_cert("com.herald.sim")
    try:
        r = Rig(stack, "apns", HERALD_WORKER_APNS_CERT_FILE=pem, **NO_TOKEN)
        u = uid()
        t = token("apns")
        r.send(u, [t])
        fb = r.feedback(u, 1, timeout=40)[0]
        assert (fb["outcome"], fb["code"]) == ("failed", "BadCertificate")
        assert r.records(token=t, accepted=1) == []
        assert r.records(token=t)[0]["status"] == 403
    finally:
        os.unlink(pem)


def test_kill9_mid_batch_then_restart_delivers_everything(stack):
    crash_scenario(stack, "apns", 4000, 500, 800, graceful=False)


def test_sigterm_mid_batch_loses_and_repeats_nothing(stack):
    r, u, toks, recs = crash_scenario(stack, "apns", 3000, 500, 600, graceful=True)
    assert len(recs) == len(toks), "a token was sent twice"
