-- 0002_push.sql -- what happened to each send: per-target outcomes
-- (push_status) and the fan-out's idempotency record (push_requests).
--
-- push_status holds one row per (app, uid, target); a later outcome of the
-- same rank or higher replaces an earlier one, so "interacted" reported
-- by the app is never overwritten by a late "sent" from a worker.
-- push_requests holds a row only for a request whose every delivery batch
-- was acknowledged (or that expired): a repeated uid is skipped.

CREATE TABLE push_status (
    app        text COLLATE "C" NOT NULL,
    uid        text COLLATE "C" NOT NULL,
    -- the device id; 'token:<md5 of provider:token>' for raw tokens;
    -- 'topic:<provider>' for topic and condition sends
    target     text COLLATE "C" NOT NULL,
    device_id  text COLLATE "C",
    provider   text COLLATE "C",
    token      text,            -- raw-token recipients only
    status     text COLLATE "C" NOT NULL
               CHECK (status IN ('sent', 'failed', 'token_invalid',
                                 'expired', 'delivered', 'interacted')),
    code       text,
    msg_id     text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app, uid, target)
);
CREATE INDEX push_status_updated ON push_status (updated_at);

CREATE TABLE push_requests (
    app        text COLLATE "C" NOT NULL,
    uid        text COLLATE "C" NOT NULL,
    state      text COLLATE "C" NOT NULL CHECK (state IN ('done', 'expired')),
    tokens     bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    done_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app, uid)
);
CREATE INDEX push_requests_done ON push_requests (done_at);

-- Outcome precedence: final provider outcomes < delivered < interacted.
CREATE FUNCTION herald_status_rank(s text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE s WHEN 'interacted' THEN 3 WHEN 'delivered' THEN 2 ELSE 1 END
$$;
