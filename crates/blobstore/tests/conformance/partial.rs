//! Resumable uploads: pieces appended over many requests, some of which die, then assembled.

use mediadrive_core::{BlobError, BlobStore, FileId};

use crate::{blake3_of, bytes, chunks, Backend, MULTIPART};

every_backend!(
    pieces_assemble_in_order_across_the_multipart_threshold,
    bytes_a_dead_request_left_are_written_over_or_left_out,
    an_assembly_that_is_not_committed_can_be_retried,
    partial_uploads_are_listed_until_discarded,
    an_upload_with_no_bytes_cannot_be_assembled,
);

fn upload(n: u8) -> FileId {
    FileId::parse(&format!("{n:02x}").repeat(16)).unwrap()
}

/// Appends `data` at `offset` as one request does; returns how many bytes the store counted.
async fn append(store: &dyn BlobStore, id: &FileId, offset: usize, data: &[u8]) -> u64 {
    let mut piece = store.append_partial(id, offset as u64).await.unwrap();
    for chunk in chunks(data) {
        piece.write(chunk).await.unwrap();
    }
    piece.close().await.unwrap()
}

/// Assembles the first `len` bytes, commits them, and returns what the blob holds.
async fn assemble(store: &dyn BlobStore, id: &FileId, len: usize) -> Vec<u8> {
    let mut whole = store.assemble_partial(id, len as u64).await.unwrap();
    let (hash, got) = whole.finish().await.unwrap();
    assert_eq!(got, len as u64);
    whole.commit(&hash).await.unwrap();
    let body = store.read_all(&hash).await.unwrap().to_vec();
    assert_eq!(
        blake3_of(&body),
        hash,
        "the bytes placed are the bytes hashed"
    );
    body
}

async fn pieces_assemble_in_order_across_the_multipart_threshold(b: Backend) {
    let id = upload(1);
    // A first piece past the threshold, a small one, then one that ends the upload.
    let pieces = [
        bytes(100, MULTIPART + 17),
        bytes(101, 1_048_576),
        bytes(102, 3 * 1_048_576 + 5),
    ];
    let mut offset = 0;
    for piece in &pieces {
        assert_eq!(
            append(b.store.as_ref(), &id, offset, piece).await,
            piece.len() as u64
        );
        offset += piece.len();
    }
    let want = pieces.concat();
    assert!(assemble(b.store.as_ref(), &id, want.len()).await == want);
    // The upload's bytes stay until discarded, whatever became of its blob.
    assert_eq!(b.store.partial_uploads().await.unwrap(), vec![id.clone()]);
    b.store.discard_partial(&id).await.unwrap();
    b.raw.wait_empty("partial/").await;
    b.raw.wait_empty("staging/").await;
}

async fn bytes_a_dead_request_left_are_written_over_or_left_out(b: Backend) {
    let id = upload(2);
    let first = bytes(200, 700_000);
    append(b.store.as_ref(), &id, 0, &first).await;
    // A request dropped mid-body, and one that wrote bytes the catalog never counted.
    let mut dropped = b
        .store
        .append_partial(&id, first.len() as u64)
        .await
        .unwrap();
    for chunk in chunks(&bytes(202, 400_000)) {
        dropped.write(chunk).await.unwrap();
    }
    drop(dropped);
    append(b.store.as_ref(), &id, first.len(), &bytes(201, 900_000)).await;
    // The client resumes at the counted offset with what it really meant to send.
    let second = bytes(203, MULTIPART + 3);
    append(b.store.as_ref(), &id, first.len(), &second).await;
    let want = [first.as_slice(), second.as_slice()].concat();
    assert!(assemble(b.store.as_ref(), &id, want.len()).await == want);

    // A last request that died after its bytes were written but before they were counted.
    let other = upload(3);
    let counted = bytes(204, 2 * MULTIPART + 1);
    append(b.store.as_ref(), &other, 0, &counted[..MULTIPART]).await;
    append(b.store.as_ref(), &other, MULTIPART, &counted[MULTIPART..]).await;
    append(b.store.as_ref(), &other, counted.len(), &bytes(205, 1234)).await;
    assert!(assemble(b.store.as_ref(), &other, counted.len()).await == counted);
}

async fn an_assembly_that_is_not_committed_can_be_retried(b: Backend) {
    let id = upload(4);
    let data = bytes(300, MULTIPART + 4096);
    append(b.store.as_ref(), &id, 0, &data[..1_000_000]).await;
    append(b.store.as_ref(), &id, 1_000_000, &data[1_000_000..]).await;
    let mut failed = b
        .store
        .assemble_partial(&id, data.len() as u64)
        .await
        .unwrap();
    let (hash, _) = failed.finish().await.unwrap();
    // The completion failed before it was recorded: nothing was placed.
    drop(failed);
    assert!(!b.store.exists(&hash).await.unwrap());
    assert!(assemble(b.store.as_ref(), &id, data.len()).await == data);
    // Bytes written to the upload after it was placed leave the blob as it was.
    append(b.store.as_ref(), &id, 1_000_000, &bytes(301, 50_000)).await;
    assert!(b.store.read_all(&hash).await.unwrap() == data);
    b.store.discard_partial(&id).await.unwrap();
    assert!(b.store.read_all(&hash).await.unwrap() == data);
    b.raw.wait_empty("staging/").await;
}

async fn partial_uploads_are_listed_until_discarded(b: Backend) {
    assert!(b.store.partial_uploads().await.unwrap().is_empty());
    let ids = [upload(5), upload(6), upload(7)];
    for (n, id) in ids.iter().enumerate() {
        append(b.store.as_ref(), id, 0, &bytes(400 + n as u64, 10_000)).await;
    }
    // A second piece of one upload does not list it twice.
    append(b.store.as_ref(), &ids[0], 10_000, &bytes(410, 10_000)).await;
    let mut listed = b.store.partial_uploads().await.unwrap();
    listed.sort_by(|a, c| a.as_str().cmp(c.as_str()));
    assert_eq!(listed, ids);
    b.store.discard_partial(&ids[1]).await.unwrap();
    b.store.discard_partial(&ids[1]).await.unwrap();
    let mut listed = b.store.partial_uploads().await.unwrap();
    listed.sort_by(|a, c| a.as_str().cmp(c.as_str()));
    assert_eq!(listed, [ids[0].clone(), ids[2].clone()]);
    // Discarding one upload leaves the others' bytes whole.
    let want = [bytes(400, 10_000), bytes(410, 10_000)].concat();
    assert!(assemble(b.store.as_ref(), &ids[0], want.len()).await == want);
    // An upload nobody wrote to discards as nothing.
    b.store.discard_partial(&upload(8)).await.unwrap();
}

async fn an_upload_with_no_bytes_cannot_be_assembled(b: Backend) {
    let id = upload(9);
    let lost = match b.store.assemble_partial(&id, 10).await {
        Err(e) => e,
        Ok(mut whole) => whole.finish().await.unwrap_err(),
    };
    assert!(matches!(lost, BlobError::PartialLost(_)), "{lost}");
    // Fewer bytes than counted: the ones missing cannot come back.
    append(b.store.as_ref(), &id, 0, &bytes(500, 100)).await;
    let short = match b.store.assemble_partial(&id, 101).await {
        Err(e) => e,
        Ok(mut whole) => whole.finish().await.unwrap_err(),
    };
    assert!(matches!(short, BlobError::PartialLost(_)), "{short}");
    assert!(b.raw.keys("blobs/").await.is_empty());
}
