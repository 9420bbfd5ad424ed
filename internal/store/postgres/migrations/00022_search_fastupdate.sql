-- +goose Up
-- A message's search document goes into the GIN index at once rather than
-- into its pending list. With the pending list, every few tens of thousands
-- of messages (4 MB of entries) one insert merged the whole list into the
-- index, and every writer queued behind it: a stall of 100 – 250 ms seen in
-- each load test's sixth second at 10,000 messages/s, floor included. The
-- desk answers a sender after the commit, so steady inserts matter more
-- than their cost, and at that rate the inserts cost no throughput
-- (docs/benchmarks.md). What the list holds now goes in before the switch.
SELECT gin_clean_pending_list('search_docs_terms');
ALTER INDEX search_docs_terms SET (fastupdate = off);

-- +goose Down
ALTER INDEX search_docs_terms SET (fastupdate = on);
