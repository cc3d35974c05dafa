"""test_devkafka.py -- herald-devkafka, the mock Kafka cluster the other
integration tests stand on: its bootstrap line and file, its control
commands (topics, brokers down and up, bad input), its shutdown and its
--help.
"""
import json
import os
import re
import signal
import subprocess
import time

from harness import BIN, SANITIZER_MARKERS

DEVKAFKA = os.path.join(BIN, "herald-devkafka")


def stop(kafka, timeout=20):
    """SIGTERM the devkafka process; returns its exit status."""
    kafka.proc.send_signal(signal.SIGTERM)
    rc = kafka.proc.wait(timeout)
    with open(kafka.log, errors="replace") as f:
        text = f.read()
    assert not [m for m in SANITIZER_MARKERS if m in text], text[-3000:]
    return rc


def metadata(brokers, topic=None):
    cmd = ["kcat", "-b", brokers, "-L", "-J"] + (["-t", topic] if topic else [])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return {t["topic"]: len(t["partitions"]) for t in json.loads(r.stdout)["topics"]}


def produce(env, topic, *pairs):
    return subprocess.run([DEVKAFKA, "produce", topic] + list(pairs), env=env,
                          capture_output=True, text=True, timeout=60)


def test_bootstrap_line_and_file(stack, tmp_path, monkeypatch):
    path = tmp_path / "bootstrap"
    monkeypatch.setenv("HERALD_DEVKAFKA_BOOTSTRAP_FILE", str(path))
    kafka = stack.kafka(brokers=3)
    assert re.fullmatch(r"127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}", kafka.brokers)
    assert path.read_text() == kafka.brokers + "\n"
    assert os.listdir(tmp_path) == ["bootstrap"]  # no temporary left behind

    assert stop(kafka) == 0
    assert not path.exists()
    assert kafka.proc.stdout.read() == ""  # BOOTSTRAP was the only line


def test_default_topics_and_topic_command(stack):
    kafka = stack.kafka()
    topics = metadata(kafka.brokers)
    for name, parts in (("herald.events", 4), ("herald.requests", 8), ("herald.deliver.fcm", 8),
                        ("herald.deliver.apns", 8), ("herald.deliver.hms", 8),
                        ("herald.feedback", 8), ("herald.dlq", 2)):
        assert topics.get(name) == parts, (name, topics)

    assert kafka.cmd("topic dk.five 5") == "OK topic dk.five 5 -> Success"
    assert metadata(kafka.brokers, "dk.five") == {"dk.five": 5}


def test_down_times_produce_out_and_up_lets_it_through(stack):
    kafka = stack.kafka()
    kafka.cmd("topic dk.down 1")
    env = stack.env(HERALD_KAFKA_BROKERS=kafka.brokers, HERALD_KAFKA_SEND_TIMEOUT_MS=1500)

    assert kafka.cmd("down -1") == "OK down -1 -> Success"
    start = time.monotonic()
    r = produce(env, "dk.down", "k=lost")
    assert r.returncode == 1, r.stderr[-3000:]
    assert "timed out" in r.stderr
    assert time.monotonic() - start < 15

    assert kafka.cmd("up -1") == "OK up -1 -> Success"
    r = produce(env, "dk.down", "k=kept")
    assert r.returncode == 0, r.stderr[-3000:]
    out = subprocess.run(["kcat", "-b", kafka.brokers, "-C", "-t", "dk.down", "-o", "beginning",
                          "-e", "-q", "-f", "%k=%s\\n"], capture_output=True, text=True, timeout=30)
    assert out.stdout.splitlines() == ["k=kept"]


def test_bad_commands_get_err_and_the_next_one_works(stack):
    kafka = stack.kafka()
    for bad in ("frobnicate 1", "topic onlyname", "down everyone", "err 0 1000 6",
                "coord cluster k 1"):
        kafka.proc.stdin.write(bad + "\n")
        kafka.proc.stdin.flush()
        line = kafka._readline(10)
        assert line and line.startswith("ERR %s -> " % bad), (bad, line)
    assert kafka.cmd("rtt 1 0") == "OK rtt 1 0 -> Success"


def test_keeps_serving_after_stdin_closes_until_sigterm(stack):
    kafka = stack.kafka()
    kafka.proc.stdin.close()
    time.sleep(0.3)  # what is asserted is that nothing happens
    assert kafka.proc.poll() is None
    assert "herald.dlq" in metadata(kafka.brokers)
    assert stop(kafka) == 0


def test_help_lists_the_variables():
    r = subprocess.run([DEVKAFKA, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for var in ("HERALD_DEVKAFKA_BROKERS", "HERALD_DEVKAFKA_TOPICS",
                "HERALD_DEVKAFKA_BOOTSTRAP_FILE", "HERALD_KAFKA_BROKERS"):
        assert var in r.stdout, var
    assert "produce TOPIC" in r.stdout and "consume TOPIC GROUP" in r.stdout
