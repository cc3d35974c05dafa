-- 0010_push_status_target.sql -- one device's latest outcomes of any push
-- (push_status_list by device_id, the admin console's device page): an
-- index range of (app, target) read newest first. Every outcome row
-- already updates push_status_updated, so an outcome's update was never
-- HOT; this adds one more index entry per stored outcome.

CREATE INDEX push_status_target ON push_status (app, target, updated_at);
