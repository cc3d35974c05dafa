"""test_kafka_at_least_once.py -- a record is done only once it is
acknowledged: a consumer killed before its ack gets the record again, and
one stopped cleanly after its ack commits, so its successor starts at the
next record.

Drives `herald-devkafka consume`, which is common/kafka/kafka.c's consumer with
an ack protocol on stdin, against the mock cluster.
"""
import json
import os
import select
import signal
import subprocess
import time

from harness import BIN, SANITIZER_MARKERS, log_path

DEVKAFKA = os.path.join(BIN, "herald-devkafka")


class Consumer:
    """`herald-devkafka consume TOPIC GROUP`: records come out as JSON
    lines on stdout, acks go in on stdin."""

    def __init__(self, env, topic, group):
        self.log = log_path("devkafka-consume")
        self._logf = open(self.log, "w")
        self.proc = subprocess.Popen([DEVKAFKA, "consume", topic, group], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._logf)
        self._buf = b""

    def next_record(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError("no record within %.0fs (exit %s); log:\n%s"
                                     % (timeout, self.proc.poll(), self.read_log()[-3000:]))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    continue
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def ack(self, partition, offset):
        self.proc.stdin.write(b"ack %d %d\n" % (partition, offset))
        self.proc.stdin.flush()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self._logf.close()

    def stop(self, timeout=20.0):
        """SIGTERM; returns the exit status after checking for sanitizer reports."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._logf.close()
        text = self.read_log()
        reports = [m for m in SANITIZER_MARKERS if m in text]
        assert not reports, "sanitizer report %s in %s" % (reports, self.log)
        return rc

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()


def produce(env, topic, *pairs):
    r = subprocess.run([DEVKAFKA, "produce", topic] + list(pairs), env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not [m for m in SANITIZER_MARKERS if m in r.stderr], r.stderr[-3000:]


def test_unacked_record_comes_back_acked_one_does_not(stack):
    kafka = stack.kafka()
    kafka.cmd("topic alo.jobs 1")
    env = stack.env(HERALD_KAFKA_BROKERS=kafka.brokers)
    produce(env, "alo.jobs", "k0=m0", "k1=m1", "k2=m2")

    first = Consumer(env, "alo.jobs", "alo.workers")
    rec = first.next_record()
    assert (rec["topic"], rec["partition"], rec["offset"], rec["key"], rec["value"]) == \
        ("alo.jobs", 0, 0, "k0", "m0")
    first.kill9()  # crash before the ack

    second = Consumer(env, "alo.jobs", "alo.workers")
    rec = second.next_record()
    assert (rec["offset"], rec["value"]) == (0, "m0"), "unacknowledged m0 must come back"
    second.ack(0, 0)
    assert second.stop() == 0  # clean exit commits m0

    third = Consumer(env, "alo.jobs", "alo.workers")
    rec = third.next_record()
    assert (rec["offset"], rec["value"]) == (1, "m1"), "acknowledged m0 must not come back"
    assert third.stop() == 0
