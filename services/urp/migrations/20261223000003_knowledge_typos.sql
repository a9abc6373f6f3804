-- Typos are searched through a GiST trigram index instead of the GIN one. Measured over
-- the bench's 5,000 answers (a few words shared by hundreds of titles each): GIN's
-- posting lists for the common trigrams made its bitmap cost more than reading the whole
-- table (the planner chose a sequential scan, 15-17 ms: a word similarity per row); the
-- GiST tree prunes on the word-similarity threshold and answers in 1-4 ms, and it can
-- also return the titles nearest first (`<<->`).
drop index kb_answers_folded;
create index kb_answers_folded on kb_answers using gist (folded gist_trgm_ops);
