//! A hash map keyed by [`KeyId`], split into shards so that readers of different keys do not
//! contend on one lock.
//!
//! Ids come from the OS CSPRNG and are only ever inserted by this crate after a key is created
//! or verified, so a cheap multiplicative hash is safe here where SipHash would be wasted work.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::key::KeyId;

/// Number of shards; a power of two.
const SHARDS: usize = 64;

/// A fast hasher for random ids (FxHash-style multiply-rotate).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for IdHasher {
    fn write_u64(&mut self, word: u64) {
        self.mix(word);
    }

    fn write_u32(&mut self, word: u32) {
        self.mix(u64::from(word));
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0_u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type IdHashMap<V> = HashMap<KeyId, V, BuildHasherDefault<IdHasher>>;

/// A sharded `RwLock<HashMap<KeyId, V>>`.
/// One shard, alone on its cache lines: two threads working on keys of different shards
/// never write to the same line (a `RwLock` and its map fit in one line, so unpadded
/// neighbours would share it and every read lock would bounce it between cores). 128 bytes
/// because x86 prefetches lines in pairs.
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

pub(crate) struct ShardedIdMap<V> {
    shards: Box<[Padded<RwLock<IdHashMap<V>>>]>,
}

impl<V> ShardedIdMap<V> {
    pub(crate) fn new() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Padded(RwLock::new(IdHashMap::default())))
                .collect(),
        }
    }

    fn shard_index(id: &KeyId) -> usize {
        let mut hasher = IdHasher::default();
        std::hash::Hash::hash(id, &mut hasher);
        // The map inside a shard uses the low bits (bucket) and the top seven bits (tag):
        // pick the shard from well-mixed middle bits so that neither is skewed.
        (hasher.finish() >> 40) as usize & (SHARDS - 1)
    }

    /// Read access to the shard holding `id`. A poisoned lock is recovered: the maps hold plain
    /// data that a panicking writer cannot leave half-updated.
    pub(crate) fn read(&self, id: &KeyId) -> RwLockReadGuard<'_, IdHashMap<V>> {
        let shard = &self.shards[Self::shard_index(id)].0;
        shard.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the shard holding `id`.
    pub(crate) fn write(&self, id: &KeyId) -> RwLockWriteGuard<'_, IdHashMap<V>> {
        let shard = &self.shards[Self::shard_index(id)].0;
        shard.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to every shard in turn.
    pub(crate) fn for_each_shard(&self, mut f: impl FnMut(&mut IdHashMap<V>)) {
        for shard in self.shards.iter() {
            f(&mut shard.0.write().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// Total number of entries.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.0.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
}
