-- keygate: plans, and which plan each workspace's keys and each key are on.
-- A plan's definition is its JSON (`Plan::to_json`). A key is limited by its own plan, else by
-- its workspace's plan; keys from before plans have neither and keep working as they did.
CREATE TABLE keygate_plans (
    name       text  PRIMARY KEY,   -- e.g. pro
    definition jsonb NOT NULL       -- {"name": "pro", "limits": [...]}
);

CREATE TABLE keygate_workspaces (
    workspace text PRIMARY KEY,
    plan      text NULL REFERENCES keygate_plans (name)
);

ALTER TABLE keygate_keys ADD COLUMN plan text NULL REFERENCES keygate_plans (name);
