"""test_hub_keepalive.py -- the hub's keep-alive Ping goes out with the
client's: a client pinging every interval gets every hub Ping right after
its own (one wake-up of the hub per connection per interval), a silent
client still gets one every interval, and no client waits longer than the
interval plus a second, even when its own ping comes late."""
import threading
import time

from test_hub_signalr import RawWS, start_hub, token

INTERVAL = 4  # HERALD_HUB_PING_INTERVAL_S
PING = b"\x02\x91\x06"  # MessagePack Ping, both ways
HS = {"protocol": "messagepack", "version": 1}


class Receiver:
    """Collects the arrival times of the hub's frames on one connection."""

    def __init__(self, ws):
        self.ws = ws
        self.pings = []
        self.other = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                _, p = self.ws.recv_frame(timeout=0.2)
            except TimeoutError:
                continue
            except (EOFError, OSError):
                return
            (self.pings if p == PING else self.other).append((time.monotonic(), p))


def test_hub_ping_goes_with_the_clients(stack):
    hub = start_hub(stack, HERALD_HUB_PING_INTERVAL_S=str(INTERVAL), HERALD_HUB_THREADS="1")
    pinger = RawWS(hub.port, "/notifications/hub?access_token=" + token("ka-pinger"), handshake=HS)
    silent = RawWS(hub.port, "/notifications/hub?access_token=" + token("ka-silent"), handshake=HS)
    assert pinger.status == 101 and silent.status == 101
    assert pinger.recv_frame()[1] == b"{}\x1e" and silent.recv_frame()[1] == b"{}\x1e"
    rp, rs = Receiver(pinger), Receiver(silent)
    t0 = time.monotonic()
    # the client's keep-alive every INTERVAL s from 1 s on; the fourth one
    # 1.5 s late (later than the hub waits for it)
    plan = [1 + INTERVAL * k + (1.5 if k == 3 else 0) for k in range(7)]
    sent = []
    try:
        for at in plan:
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            # the time before the write: the hub's answer may reach the
            # receiving thread before this thread runs again
            sent.append(time.monotonic())
            pinger.send_frame(0x2, PING)
        time.sleep(t0 + plan[-1] + 0.5 - time.monotonic())
        end = time.monotonic()
    finally:
        rp.stop = rs.stop = True
        rp.thread.join(5)
        rs.thread.join(5)
        pinger.close()
        silent.close()
    assert rp.other == [] and rs.other == []

    def gaps(times):
        return [b - a for a, b in zip([t0] + times, times + [end])]

    # nobody waits longer than the interval plus a second (a tick and the
    # machine's load on top)
    ppings = [t for t, _ in rp.pings]
    spings = [t for t, _ in rs.pings]
    assert max(gaps(ppings)) < INTERVAL + 1 + 1.0, (gaps(ppings), sent)
    assert max(gaps(spings)) < INTERVAL + 1.0, gaps(spings)
    # the silent client: the timer's pings, one per interval
    assert len(spings) >= int((end - t0) / INTERVAL) - 1, spings
    # the pinging client: apart from the late ping's round, every hub Ping
    # arrives right after one of the client's, never on its own
    def after_client(t):
        return any(0 <= t - s < 0.5 for s in sent)

    alone = [round(t - t0, 2) for t in ppings if not after_client(t)]
    assert len(alone) <= 1, (alone, [round(s - t0, 2) for s in sent])
    assert len(ppings) <= len(sent) + 1, (len(ppings), len(sent))
