-- accounts: what the accounts component needs beyond the core tables.

-- accounts: extended profile fields (v1.16+), every key but displayname and
-- avatar_url, which keep their columns because other components read them.
ALTER TABLE profiles ADD COLUMN fields jsonb NOT NULL DEFAULT '{}';

-- accounts: the refresh token this one replaced. The predecessor stays valid
-- until this token or an access token issued with it is first used (spec:
-- "Refreshing access tokens"); then it is deleted and prev_id cleared.
ALTER TABLE refresh_tokens ADD COLUMN prev_id bigint;
CREATE INDEX refresh_tokens_prev ON refresh_tokens (prev_id) WHERE prev_id IS NOT NULL;
CREATE INDEX access_tokens_refresh ON access_tokens (refresh_id) WHERE refresh_id IS NOT NULL;

-- accounts: the request a user-interactive authentication session was started
-- for, so a session completed for one request cannot authorise another.
ALTER TABLE uia_sessions ADD COLUMN operation text NOT NULL DEFAULT '';
CREATE INDEX uia_sessions_created ON uia_sessions (created_ts);
CREATE INDEX registration_nonces_created ON registration_nonces (created_ts);
