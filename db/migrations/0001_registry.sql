-- 0001_registry.sql -- the device registry: devices, their channel
-- subscriptions, users' channels, and relay installations.
--
-- Every key column is COLLATE "C" so comparisons are plain byte order:
-- keyset pagination ("since" = last id) and index range scans then agree
-- with what the C code compares. No OFFSET anywhere: every list is an
-- index range scan from the cursor. Every table carries "app" (the
-- registry namespace) from the start.

CREATE TABLE installations (
    id            text COLLATE "C" PRIMARY KEY,
    key_hash      text NOT NULL,
    contact_email text,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id              text COLLATE "C" PRIMARY KEY,
    app             text COLLATE "C" NOT NULL,
    provider        text COLLATE "C" NOT NULL
                    CHECK (provider IN ('fcm', 'apns', 'hms', 'webpush')),
    token           text COLLATE "C" NOT NULL,
    platform        text COLLATE "C" NOT NULL
                    CHECK (platform IN ('ios', 'android', 'web')),
    user_id         text COLLATE "C" NOT NULL DEFAULT '',
    identifier      text COLLATE "C",
    installation_id text COLLATE "C"
                    REFERENCES installations (id) ON DELETE CASCADE,
    client_type     smallint NOT NULL DEFAULT 0,
    device_type     smallint,
    meta            jsonb NOT NULL DEFAULT '{}',
    tags            jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now()
);

-- Filters of device_list / device_update / device_remove, each ordered by
-- id for keyset pages; also the "users" recipient of the fan-out.
CREATE INDEX devices_user ON devices (app, user_id, id);
CREATE INDEX devices_provider ON devices (app, provider, id);
CREATE INDEX devices_platform ON devices (app, platform, id);
-- Bitwarden: the client's device identifier, and relay tenants.
CREATE INDEX devices_identifier ON devices (app, identifier, user_id)
    WHERE identifier IS NOT NULL;
CREATE INDEX devices_installation ON devices (app, installation_id, id)
    WHERE installation_id IS NOT NULL;
-- (app, provider, token) is the physical device: registering a known
-- token moves that row instead of adding one. Created last on purpose:
-- while the table is empty every (app, ...) index costs the same to the
-- planner, it keeps the last one created, and the registration lookup's
-- plan, cached at a fresh install, must be this one.
CREATE UNIQUE INDEX devices_token ON devices (app, provider, token);
-- No index on updated_at / last_seen_at: they change on every
-- re-registration and successful send, and an indexed column would make
-- each of those a non-HOT update of every index. The hourly inactive-
-- device cleanup scans instead.
-- Statistics early, so cached plans stop assuming an empty table soon.
ALTER TABLE devices SET (autovacuum_analyze_scale_factor = 0.02);

-- A device's channels. src 0: the device's own (device_register,
-- channels_update); src 1: attached from user_channels, swapped when the
-- device's user changes. A channel held both ways has two rows.
CREATE TABLE device_channels (
    device_id text COLLATE "C" NOT NULL
              REFERENCES devices (id) ON DELETE CASCADE,
    channel   text COLLATE "C" NOT NULL,
    src       smallint NOT NULL DEFAULT 0 CHECK (src IN (0, 1)),
    app       text COLLATE "C" NOT NULL,
    PRIMARY KEY (device_id, channel, src)
);
-- The fan-out reads a channel's devices as an index range in id order.
CREATE INDEX device_channels_channel
    ON device_channels (app, channel, device_id);
ALTER TABLE device_channels SET (autovacuum_analyze_scale_factor = 0.02);

-- Persistent user -> channel bindings (push_user_channel_update).
CREATE TABLE user_channels (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app        text COLLATE "C" NOT NULL,
    user_id    text COLLATE "C" NOT NULL,
    channel    text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_channels_channel ON user_channels (app, channel, id);
CREATE INDEX user_channels_page ON user_channels (app, id);
-- Last, for the same reason as devices_token: a registration reads the
-- user's channels through it.
CREATE UNIQUE INDEX user_channels_user ON user_channels (app, user_id, channel);
