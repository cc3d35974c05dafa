-- 0012_skipped.sql -- push_status takes 'skipped': a device the fan-out
-- did not send to on purpose (code 'online': its user was connected to
-- the hub and the send asked to skip online users). It ranks with the
-- provider outcomes, so a later 'delivered' or 'interacted' still wins.

ALTER TABLE push_status DROP CONSTRAINT push_status_status_check;
ALTER TABLE push_status ADD CONSTRAINT push_status_status_check
    CHECK (status IN ('sent', 'failed', 'token_invalid', 'expired',
                      'skipped', 'delivered', 'interacted'));
