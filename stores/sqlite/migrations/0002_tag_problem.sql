-- A file whose stream was read but whose tags were not (a damaged ID3 frame, say) keeps
-- its track; why its tags could not be read is kept with it.
ALTER TABLE tracks ADD COLUMN tag_problem TEXT;
