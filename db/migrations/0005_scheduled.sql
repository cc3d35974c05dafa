-- 0005_scheduled.sql -- pushes sent with send_at, held until their time,
-- and cancelled uids.
--
-- A scheduled push is its herald.requests record, kept here until due_at.
-- The scheduler stage of every herald-api replica claims due rows with
-- FOR UPDATE SKIP LOCKED, produces them to herald.requests and marks them
-- released in the same transaction: a replica killed in between leaves
-- them pending, another claims them again, and the fan-out's uid
-- idempotency drops the second copy. cancel_push marks the uid
-- cancelled (inserting the row when the uid was never scheduled), which
-- also stops a fan-out of that uid still reading pages.

CREATE TABLE scheduled_pushes (
    app        text COLLATE "C" NOT NULL,
    uid        text COLLATE "C" NOT NULL,
    due_at     timestamptz NOT NULL,
    state      text COLLATE "C" NOT NULL
               CHECK (state IN ('pending', 'released', 'cancelled')),
    record     text, -- NULL for a cancel of a uid never scheduled
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app, uid)
);
-- The scheduler's claim: the due pending rows, oldest first.
CREATE INDEX scheduled_pushes_due ON scheduled_pushes (due_at)
    WHERE state = 'pending';
