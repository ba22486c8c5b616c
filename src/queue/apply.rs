//! Applying another process's operation to this process's clients.

use std::sync::Arc;
use std::time::Instant;

use sockio_protocol::{Payload, SocketId};

use super::{QueueMessage, RemoteAck};
use crate::emit::deliver_local;
use crate::engine::Engine;
use crate::io::find;

pub(super) fn apply(engine: &Arc<Engine>, message: QueueMessage) {
    match message {
        QueueMessage::Emit {
            namespace,
            rooms,
            except,
            skip,
            payload,
            volatile,
            callback: None,
        } => {
            deliver_local(
                engine, &namespace, &rooms, &except, &skip, volatile, &payload,
            );
        }
        QueueMessage::Emit {
            namespace,
            rooms,
            except,
            skip,
            payload,
            callback: Some(callback),
            ..
        } => emit_with_remote_ack(
            engine, &namespace, &rooms, &except, &skip, payload, callback,
        ),
        QueueMessage::EnterRoom {
            sid,
            namespace,
            room,
        } => {
            engine.drive_sid(&sid, |st| {
                if let Some(mut s) = find(st, &sid, &namespace).and_then(|id| st.server.socket(id))
                {
                    s.join(room);
                }
            });
        }
        QueueMessage::LeaveRoom {
            sid,
            namespace,
            room,
        } => {
            engine.drive_sid(&sid, |st| {
                if let Some(mut s) = find(st, &sid, &namespace).and_then(|id| st.server.socket(id))
                {
                    s.leave(&room);
                }
            });
        }
        QueueMessage::CloseRoom { namespace, room } => {
            engine.drive_all(|st| st.server.close_room(&namespace, &room));
        }
        QueueMessage::Disconnect { sid, namespace } => {
            engine.drive_sid(&sid, |st| {
                if let Some(s) = find(st, &sid, &namespace).and_then(|id| st.server.socket(id)) {
                    s.disconnect();
                }
            });
        }
        QueueMessage::JoinRooms {
            namespace,
            rooms,
            except,
            join,
        } => {
            engine.drive_all(|st| {
                for id in selected(st, &namespace, &rooms, &except, &[]) {
                    if let Some(mut s) = st.server.socket(id) {
                        for r in &join {
                            s.join(r.as_str());
                        }
                    }
                }
            });
        }
        QueueMessage::LeaveRooms {
            namespace,
            rooms,
            except,
            leave,
        } => {
            engine.drive_all(|st| {
                for id in selected(st, &namespace, &rooms, &except, &[]) {
                    if let Some(mut s) = st.server.socket(id) {
                        for r in &leave {
                            s.leave(r);
                        }
                    }
                }
            });
        }
        QueueMessage::DisconnectSockets {
            namespace,
            rooms,
            except,
            close,
        } => {
            engine.drive_all(|st| {
                for id in selected(st, &namespace, &rooms, &except, &[]) {
                    if close {
                        if let Some(session) = st.server.socket_info(id).map(|i| i.session) {
                            st.server.close_session(session);
                        }
                    } else if let Some(s) = st.server.socket(id) {
                        s.disconnect();
                    }
                }
            });
        }
        QueueMessage::Callback { .. } => {
            tracing::debug!("a callback message reached the server; the queue handles those");
        }
    }
}

/// Emits to the local recipients asking for an acknowledgement, each of which goes back to
/// the emitting process as a `callback` message (python-socketio's `_return_callback`).
fn emit_with_remote_ack(
    engine: &Arc<Engine>,
    namespace: &str,
    rooms: &[String],
    except: &[String],
    skip: &[String],
    payload: Payload,
    callback: RemoteAck,
) {
    let deadline = Instant::now() + engine.ack_timeout;
    let queue = engine.queue.clone();
    engine.drive_all(|st| {
        for id in selected(st, namespace, rooms, except, skip) {
            let Some(mut s) = st.server.socket(id) else {
                continue;
            };
            let ack = match s.emit_with_ack(payload.clone(), Some(deadline)) {
                Ok(ack) => ack,
                Err(e) => {
                    tracing::warn!(sid = %s.sid(), "remote emit with callback not queued: {e}");
                    continue;
                }
            };
            let (queue, to) = (queue.clone(), callback.clone());
            Engine::add_ack(
                st,
                id,
                ack,
                Box::new(move |r| {
                    // Python's managers send nothing back on timeout or disconnect; the
                    // emitting process times out on its own.
                    let Ok(args) = r else { return };
                    let json = match serde_json::to_vec(args.values()) {
                        Ok(j) => j,
                        Err(e) => {
                            tracing::warn!("acknowledgement not encodable: {e}");
                            return;
                        }
                    };
                    let msg = QueueMessage::Callback {
                        host_id: to.host_id,
                        sid: to.sid,
                        namespace: to.namespace,
                        id: to.id,
                        args: Payload {
                            json: json.into(),
                            attachments: args.attachments().clone(),
                        },
                    };
                    if let Err(e) = queue.publish(&msg) {
                        tracing::warn!(queue = queue.name(), "acknowledgement not published: {e}");
                    }
                }),
            );
        }
    });
}

/// The local clients of `namespace` in any of `rooms` (all without rooms), minus those in
/// `except` and the sids in `skip`.
fn selected(
    st: &mut crate::engine::State,
    namespace: &str,
    rooms: &[String],
    except: &[String],
    skip: &[String],
) -> Vec<SocketId> {
    let skip_ids: Vec<_> = skip
        .iter()
        .filter_map(|sid| st.server.socket_by_sid(sid))
        .collect();
    let mut b = st.server.broadcast(namespace);
    for r in rooms {
        b = b.to(r.as_str());
    }
    for r in except {
        b = b.except(r.as_str());
    }
    for id in skip_ids {
        b = b.skip(id);
    }
    b.sockets()
}
