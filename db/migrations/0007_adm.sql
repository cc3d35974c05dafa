-- 0007_adm.sql -- devices of provider 'adm' (Amazon Device Messaging).
--
-- Bitwarden's AndroidAmazon devices register their ADM token like phones
-- register FCM or APNs tokens, and Bitwarden answers them 200. No worker
-- speaks ADM, so such a device is stored (and listed as unsupported) but
-- no send selects it: the fan-out reads only the providers a notification
-- has a part for.

ALTER TABLE devices DROP CONSTRAINT devices_provider_check;
ALTER TABLE devices ADD CONSTRAINT devices_provider_check
    CHECK (provider IN ('fcm', 'apns', 'hms', 'webpush', 'adm'));
