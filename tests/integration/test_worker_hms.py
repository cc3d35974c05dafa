"""test_worker_hms.py -- herald-worker-hms against herald-sim, with delivery
batches produced straight to herald.deliver.hms: one request per batch of
up to 1000 tokens, partial success (only the illegal tokens are invalid,
the rest are sent and never resent), every error class, flow control with
Retry-After, the access token reused and refreshed, and nothing lost
across kill -9 or SIGTERM."""
import time

import pytest

from workerkit import Rig, crash_scenario, rig_fixture, tag, token, uid

rig = rig_fixture("hms")


def test_one_request_per_batch(rig):
    u = uid()
    pre = "ok-" + tag()
    toks = [token("hms", pre) for _ in range(120)]
    rig.send(u, toks)
    rig.wait_records(1, token_prefix=pre)
    recs = rig.records(token_prefix=pre)
    assert len(recs) == 1
    rec = recs[0]
    assert rec["authority"] == "push-api.cloud.huawei.com"
    assert rec["path"] == "/v1/%s/messages:send" % rig.sim.creds["HERALD_SIM_HMS_APP_ID"]
    assert rec["json"] == {"validate_only": False,
                           "message": {"data": "{\"type\":\"1\"}", "token": toks}}
    assert rec["headers"]["authorization"].startswith("Bearer ")
    assert rig.outcomes(u, 120) == {t: ("sent", "") for t in toks}


def test_partial_success_marks_only_illegal_tokens(rig):
    u = uid()
    toks = [token("hms"), token("hms", "dead-"), token("hms", "bad0-"), token("hms")]
    rig.send(u, toks)
    out = rig.outcomes(u, 4)
    assert out[toks[0]] == ("sent", "") and out[toks[3]] == ("sent", "")
    assert out[toks[1]] == ("token_invalid", "80100000")
    assert out[toks[2]] == ("token_invalid", "80100000")
    recs = rig.records(token=toks[0])
    assert len(recs) == 1 and recs[0]["outcome"] == "80100000"  # never resent


def test_every_error_class(rig):
    cases = {
        "all_invalid": ([token("hms", "dead-"), token("hms", "dead-")],
                        ("token_invalid", "80300007")),
        "bad_request": ([token("hms", "he03-")], ("failed", "80100003")),
        "config": ([token("hms", "he12-")], ("failed", "80300002")),
        "retry": ([token("hms", "0500-")], ("failed", "81000001")),
    }
    uids = {}
    for name, (toks, _) in cases.items():
        uids[name] = uid()
        rig.send(uids[name], toks)
    for name, (toks, want) in cases.items():
        out = rig.outcomes(uids[name], len(toks), timeout=40)
        assert all(out[t] == want for t in toks), (name, out)
    assert len(rig.records(token=cases["retry"][0][0])) == 3
    assert rig.dlq(uids["retry"])


def test_flow_control_retry_after_is_honoured(rig):
    t = token("hms", "ok-" + tag())
    rig.sim.rule(provider="hms", token_prefix=t, error="503", retry_after=2, count=1)
    u = uid()
    rig.send(u, [t])
    fb = rig.feedback(u, 1, timeout=30)[0]
    assert (fb["outcome"], fb["attempt"]) == ("sent", 1)
    first, second = rig.records(token=t)
    assert first["status"] == 503
    delay = second["time_ms"] - first["time_ms"]
    assert 2000 <= delay < 2000 + 400 + 1500, delay


@pytest.mark.parametrize("action", ["rst_stream", "close", "stall"])
def test_transport_failures_are_retried(rig, action):
    t = token("hms", "ok-" + tag())
    rule = {"error_code": "INTERNAL_ERROR"} if action == "rst_stream" else {}
    rig.sim.rule(provider="hms", token_prefix=t, action=action, count=1, **rule)
    u = uid()
    rig.send(u, [t])
    fb = rig.feedback(u, 1, timeout=30)[0]
    assert (fb["outcome"], fb["attempt"]) == ("sent", 1)
    outcomes = [r["outcome"] for r in rig.records(token=t)]
    assert outcomes[0] == action and outcomes[-1] == "success", outcomes


def test_refused_stream_is_resent_without_an_attempt(rig):
    """REFUSED_STREAM means never processed: the client sends it again at
    once, without spending one of the delivery's attempts."""
    t = token("hms", "ok-" + tag())
    rig.sim.rule(provider="hms", token_prefix=t, action="rst_stream",
                 error_code="REFUSED_STREAM", count=1)
    u = uid()
    rig.send(u, [t])
    fb = rig.feedback(u, 1, timeout=30)[0]
    assert (fb["outcome"], fb["attempt"]) == ("sent", 0)
    assert [r["outcome"] for r in rig.records(token=t)] == ["rst_stream", "success"]


def test_expired_access_token_is_refreshed(rig):
    before = rig.sim.counts()["hms"]["token"]["issued"]
    t = token("hms", "ok-" + tag())
    rig.sim.rule(provider="hms", token_prefix=t, error="80200003", count=1)
    u = uid()
    rig.send(u, [t])
    assert rig.outcomes(u, 1)[t] == ("sent", "")
    first, second = rig.records(token=t)
    assert first["outcome"] == "80200003" and second["outcome"] == "success"
    assert first["headers"]["authorization"] != second["headers"]["authorization"]
    assert rig.sim.counts()["hms"]["token"]["issued"] == before + 1


def test_topic_condition_and_expiry(rig):
    u = uid()
    rig.send(u, topic="news-" + u)
    rig.send(u, condition="'a-%s' in topics" % u)
    assert sorted(f["outcome"] for f in rig.feedback(u, 2)) == ["sent", "sent"]
    u2 = uid()
    t = token("hms", "ok-" + tag())
    rig.send(u2, [t], expire_at_ms=int(time.time() * 1000) - 1)
    assert rig.outcomes(u2, 1)[t][0] == "expired"
    assert rig.records(token=t) == []


def test_access_token_reused_across_many_sends(stack):
    r = Rig(stack, "hms")
    u = uid()
    toks = [token("hms") for _ in range(3000)]
    r.produce([r.batch(u, toks[i:i + 1000]) for i in range(0, 3000, 1000)])
    r.wait_records(3, accepted=1, timeout=60)
    c = r.sim.counts()["hms"]
    assert c["delivered"] == 3000 and c["requests"] == 3
    assert c["token"]["requests"] == 1 and c["token"]["issued"] == 1


# one request carries a whole 1000-token batch: at most two requests in
# flight, so batches are still unstarted when the worker is stopped
TWO_IN_FLIGHT = {"HERALD_WORKER_CONNECTIONS": "1", "HERALD_WORKER_STREAMS": "2"}


def test_kill9_mid_batch_then_restart_delivers_everything(stack):
    crash_scenario(stack, "hms", 8000, 1000, 2, graceful=False, latency_ms=1500,
                   **TWO_IN_FLIGHT)


def test_sigterm_mid_batch_loses_and_repeats_nothing(stack):
    r, u, toks, recs = crash_scenario(stack, "hms", 6000, 1000, 2, graceful=True,
                                      latency_ms=1500, **TWO_IN_FLIGHT)
    assert sum(len(rec["tokens"]) for rec in recs) == len(toks)
