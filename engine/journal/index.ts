// Public face of the journal: append-only command log with group commit, and its recovery reader.
export { BatchEncoder, JournalError, JournalWriter, journalBatches, readJournal, JOURNAL_VERSION, type JournalBatch, type RecoveredJournal } from "./journal.ts";
