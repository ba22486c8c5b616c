//! The rooms index of one namespace: room → members, with each socket's own room list kept in
//! its socket state so leaving everything is O(rooms of that socket).

use std::collections::HashMap;

use smallvec::SmallVec;

use crate::hash::HandleSet;
use crate::id::{Room, SocketId};

/// Past this many rooms a socket's list gets a hash index, so that joining and leaving stay
/// O(1) however many rooms it is in.
const INDEXED_FROM: usize = 16;

/// The rooms of one socket, its own sid's room first once it is connected. Membership tests,
/// joins and leaves cost O(1) (a short list is searched; a long one has an index).
#[derive(Debug, Default, Clone)]
pub(crate) struct SocketRooms {
    list: SmallVec<[Room; 4]>,
    /// Boxed: one pointer in every socket's state for what few sockets need.
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<Room, usize>>>,
}

impl<'a> IntoIterator for &'a SocketRooms {
    type Item = &'a Room;
    type IntoIter = std::slice::Iter<'a, Room>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl SocketRooms {
    pub(crate) fn from_list(list: SmallVec<[Room; 4]>) -> Self {
        let mut rooms = SocketRooms { list, index: None };
        rooms.reindex();
        rooms
    }

    pub(crate) fn as_slice(&self) -> &[Room] {
        &self.list
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn first(&self) -> Option<&Room> {
        self.list.first()
    }

    fn position(&self, room: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(room).copied(),
            None => self.list.iter().position(|r| r.as_str() == room),
        }
    }

    pub(crate) fn contains(&self, room: &str) -> bool {
        self.position(room).is_some()
    }

    /// Adds `room` at the end; false if it was there already.
    pub(crate) fn insert(&mut self, room: Room) -> bool {
        if self.contains(&room) {
            return false;
        }
        if let Some(index) = &mut self.index {
            index.insert(room.clone(), self.list.len());
        }
        self.list.push(room);
        if self.index.is_none() && self.list.len() > INDEXED_FROM {
            self.reindex();
        }
        true
    }

    /// Removes `room`; the last room takes its place (the first keeps its place unless it is
    /// the one removed). False if it was not there.
    pub(crate) fn remove(&mut self, room: &str) -> bool {
        let Some(i) = self.position(room) else {
            return false;
        };
        self.list.swap_remove(i);
        if let Some(index) = &mut self.index {
            index.remove(room);
            if let Some(moved) = self.list.get(i) {
                index.insert(moved.clone(), i);
            }
        }
        true
    }

    /// Puts `room` first (adding it when absent).
    pub(crate) fn put_first(&mut self, room: Room) {
        if let Some(i) = self.position(&room) {
            if i == 0 {
                return;
            }
            self.list.swap(0, i);
        } else {
            self.list.push(room);
            let last = self.list.len() - 1;
            self.list.swap(0, last);
        }
        self.reindex();
    }

    /// Takes the list out, leaving this empty.
    pub(crate) fn take(&mut self) -> SmallVec<[Room; 4]> {
        self.index = None;
        std::mem::take(&mut self.list)
    }

    /// Checks the index against the list (for the invariant checks).
    pub(crate) fn is_consistent(&self) -> bool {
        let unique = self
            .list
            .iter()
            .enumerate()
            .all(|(i, r)| !self.list[..i].contains(r));
        let indexed = match &self.index {
            None => self.list.len() <= INDEXED_FROM,
            Some(index) => {
                index.len() == self.list.len()
                    && self
                        .list
                        .iter()
                        .enumerate()
                        .all(|(i, r)| index.get(r) == Some(&i))
            }
        };
        unique && indexed
    }

    fn reindex(&mut self) {
        self.index = (self.list.len() > INDEXED_FROM).then(|| {
            let index = self
                .list
                .iter()
                .enumerate()
                .map(|(i, r)| (r.clone(), i))
                .collect();
            Box::new(index)
        });
    }
}

#[derive(Debug, Default)]
pub(crate) struct RoomsIndex {
    rooms: HashMap<Room, HandleSet<SocketId>>,
}

impl RoomsIndex {
    /// Adds `socket` to `room`; false if it was already there.
    pub(crate) fn join(&mut self, room: &Room, socket: SocketId) -> bool {
        match self.rooms.get_mut(room.as_str()) {
            Some(m) => m.insert(socket),
            None => {
                self.rooms
                    .insert(room.clone(), HandleSet::from_iter([socket]));
                true
            }
        }
    }

    /// Removes `socket` from `room`, dropping the room when it empties; false if absent.
    pub(crate) fn leave(&mut self, room: &str, socket: SocketId) -> bool {
        let Some(members) = self.rooms.get_mut(room) else {
            return false;
        };
        let removed = members.remove(&socket);
        if members.is_empty() {
            self.rooms.remove(room);
        }
        removed
    }

    pub(crate) fn members(&self, room: &str) -> Option<&HandleSet<SocketId>> {
        self.rooms.get(room)
    }

    /// Removes a whole room and returns its members.
    pub(crate) fn close(&mut self, room: &str) -> HandleSet<SocketId> {
        self.rooms.remove(room).unwrap_or_default()
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &Room> {
        self.rooms.keys()
    }

    /// Every room with its members.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Room, &HandleSet<SocketId>)> {
        self.rooms.iter()
    }

    /// Whether no room has members.
    pub(crate) fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_rooms_stay_consistent_small_and_large() {
        for n in [3usize, 40] {
            let mut rooms = SocketRooms::default();
            for i in 0..n {
                assert!(rooms.insert(Room::from(format!("r{i}").as_str())));
            }
            assert!(!rooms.insert(Room::from("r1")));
            rooms.put_first(Room::from("own"));
            assert_eq!(rooms.first().map(Room::as_str), Some("own"));
            assert!(rooms.remove("r1"));
            assert!(!rooms.remove("r1"));
            assert!(!rooms.contains("r1"));
            assert_eq!(rooms.first().map(Room::as_str), Some("own"));
            for i in (0..n).filter(|i| *i != 1) {
                assert!(rooms.contains(&format!("r{i}")), "r{i} of {n}");
            }
            assert_eq!(rooms.len(), n);
            let mut seen: Vec<&str> = rooms.as_slice().iter().map(Room::as_str).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), n, "no room twice");
        }
    }

    #[test]
    fn join_leave_close() {
        let mut r = RoomsIndex::default();
        let a = SocketId::from_u64(1);
        let b = SocketId::from_u64(2);
        let room = Room::from("r");
        assert!(r.join(&room, a));
        assert!(!r.join(&room, a));
        assert!(r.join(&room, b));
        assert_eq!(r.members("r").map(|m| m.len()), Some(2));
        assert!(r.leave("r", a));
        assert!(!r.leave("r", a));
        assert_eq!(r.close("r"), HandleSet::from_iter([b]));
        assert_eq!(r.names().count(), 0);
        assert!(r.members("r").is_none());
    }
}
