//! The `lake` binary, tested as a user runs it: real files, a real SQLite catalog, real Parquet.

mod bad_input;
mod clouds;
mod completions;
mod corpus;
mod delta;
mod erase;
mod faults;
mod history;
mod ingest;
mod init;
mod inspect;
mod library;
mod lifecycle;
mod maintain;
mod promote;
mod query;
mod readme;
mod reads;
mod run;
mod s3;
mod search;
mod serve;
mod snapshots;
mod util;
mod watch;
mod worker;
