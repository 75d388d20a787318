-- The console's fleet-wide VM list: newest first, optionally of one state, 50 rows a page.
CREATE INDEX vm_created_idx ON vm (created_at DESC, id DESC);
CREATE INDEX vm_state_created_idx ON vm (state, created_at DESC, id DESC);
