-- The upstream modules whose announcements start a project's runs on
-- its node, as the node reports them (a JSON list; '' until it does): the
-- lag is measured against the node's own triggers, not the catalog's.
ALTER TABLE project_state ADD COLUMN triggers TEXT NOT NULL DEFAULT '';
