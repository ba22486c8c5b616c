//! The rooms index of one namespace: room → members, with each socket's own room list kept in
//! its socket state so leaving everything is O(rooms of that socket).

use std::collections::{HashMap, HashSet};

use crate::id::{Room, SocketId};

#[derive(Debug, Default)]
pub(crate) struct RoomsIndex {
    rooms: HashMap<Room, HashSet<SocketId>>,
}

impl RoomsIndex {
    /// Adds `socket` to `room`; false if it was already there.
    pub(crate) fn join(&mut self, room: &Room, socket: SocketId) -> bool {
        match self.rooms.get_mut(room.as_str()) {
            Some(m) => m.insert(socket),
            None => {
                self.rooms.insert(room.clone(), HashSet::from([socket]));
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

    pub(crate) fn members(&self, room: &str) -> Option<&HashSet<SocketId>> {
        self.rooms.get(room)
    }

    /// Removes a whole room and returns its members.
    pub(crate) fn close(&mut self, room: &str) -> HashSet<SocketId> {
        self.rooms.remove(room).unwrap_or_default()
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &Room> {
        self.rooms.keys()
    }

    /// Every room with its members.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Room, &HashSet<SocketId>)> {
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
        assert_eq!(r.close("r"), HashSet::from([b]));
        assert_eq!(r.names().count(), 0);
        assert!(r.members("r").is_none());
    }
}
