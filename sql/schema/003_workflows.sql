-- Workflows that wait without holding a worker: a suspended workflow task is 'waiting' with
-- wait_remaining = the number of awaited children not yet finished; each awaited child
-- (wakes_parent) decrements it when it finishes, and the last one makes the parent pending
-- again — one wake-up however many children it awaited.
ALTER TABLE stent.tasks ADD COLUMN wait_remaining integer NOT NULL DEFAULT 0;
ALTER TABLE stent.tasks ADD COLUMN wakes_parent boolean NOT NULL DEFAULT false;
ALTER TABLE stent.tasks ADD CONSTRAINT tasks_wait_check CHECK (wait_remaining >= 0);

---- create above / drop below ----

ALTER TABLE stent.tasks DROP CONSTRAINT tasks_wait_check;
ALTER TABLE stent.tasks DROP COLUMN wakes_parent;
ALTER TABLE stent.tasks DROP COLUMN wait_remaining;
