-- 0006_installation_keys.sql -- relay installation keys can be rotated.
--
-- key_version counts the keys an installation has had (1: the first);
-- herald-relay's access tokens carry the version they were issued under
-- and a token of an older version is refused, so rotating a key revokes
-- every token issued with the old one. Constant defaults: no table
-- rewrite.

ALTER TABLE installations ADD COLUMN key_version integer NOT NULL DEFAULT 1,
                          ADD COLUMN key_rotated_at timestamptz;
