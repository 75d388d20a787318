-- A GPU virtualization mode switch in flight (or the last one that failed): what was asked for, while
-- virtualization_mode/params keep describing what the GPUs are in now.
ALTER TABLE host
    ADD COLUMN virtualization_requested_mode   text
        CHECK (virtualization_requested_mode IN ('passthrough', 'mig', 'hami', 'cambricon_dsmlu', 'cambricon_env_share')),
    ADD COLUMN virtualization_requested_params jsonb,
    ADD COLUMN virtualization_changed_at       timestamptz;
