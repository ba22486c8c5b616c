//! A generational slab: stable small indices, stale handles detected by generation.

pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    /// Inserts a value and returns its (index, generation).
    pub(crate) fn insert(&mut self, value: T) -> (u32, u32) {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let e = &mut self.entries[index as usize];
            e.generation = e.generation.wrapping_add(1);
            e.value = Some(value);
            (index, e.generation)
        } else {
            let index = u32::try_from(self.entries.len()).expect("fewer than 2^32 live entries");
            self.entries.push(Entry {
                generation: 0,
                value: Some(value),
            });
            (index, 0)
        }
    }

    pub(crate) fn get(&self, index: u32, generation: u32) -> Option<&T> {
        let e = self.entries.get(index as usize)?;
        if e.generation == generation {
            e.value.as_ref()
        } else {
            None
        }
    }

    pub(crate) fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        let e = self.entries.get_mut(index as usize)?;
        if e.generation == generation {
            e.value.as_mut()
        } else {
            None
        }
    }

    pub(crate) fn remove(&mut self, index: u32, generation: u32) -> Option<T> {
        let e = self.entries.get_mut(index as usize)?;
        if e.generation != generation {
            return None;
        }
        let v = e.value.take()?;
        self.free.push(index);
        self.len -= 1;
        Some(v)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u32, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.value.as_ref().map(|v| (i as u32, e.generation, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_handles_miss() {
        let mut s = Slab::new();
        let (i, g) = s.insert("a");
        assert_eq!(s.remove(i, g), Some("a"));
        let (i2, g2) = s.insert("b");
        assert_eq!(i2, i);
        assert_ne!(g2, g);
        assert_eq!(s.get(i, g), None);
        assert_eq!(s.get(i2, g2), Some(&"b"));
        assert_eq!(s.len(), 1);
        assert_eq!(s.iter().count(), 1);
    }
}
