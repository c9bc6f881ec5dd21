-- Items of a digest message that is being sent: set just before the send, cleared by delivery
-- (or by a failed send). After a crash the items still marked are re-sent together, as one
-- message, so a crash repeats at most one message per chat.
ALTER TABLE inbox ADD COLUMN sending_at INTEGER;
