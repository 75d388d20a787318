-- Console sign-in: users already exist in V1 (app_user with role and password_hash). Sign-in
-- needs to remember when a user last came in and to slow down password guessing per account.

ALTER TABLE app_user
    ADD COLUMN last_sign_in_at      timestamptz,
    ADD COLUMN failed_sign_ins      integer     NOT NULL DEFAULT 0 CHECK (failed_sign_ins >= 0),
    ADD COLUMN locked_until         timestamptz;

-- e-mail addresses are compared case-insensitively: Alice@x and alice@x are one account
CREATE UNIQUE INDEX app_user_email_lower_idx ON app_user (lower(email));

CREATE INDEX app_user_tenant_idx ON app_user (tenant_id) WHERE tenant_id IS NOT NULL;
