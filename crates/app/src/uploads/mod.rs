//! The ways a client uploads a drive file: seed 002's presigned URL and tus's resumable upload.
//! Each reserves the file's name and quota before the first byte and hands its bytes to
//! [`crate::ingest`].

pub mod presigned;
pub mod resumable;
