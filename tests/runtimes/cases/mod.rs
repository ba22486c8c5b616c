//! The behaviour cases, one file per behaviour. Each function builds its own server on the
//! runtime of the [`Rt`](crate::Rt) it gets, serves it, and talks to it with real clients.

pub mod acks;
pub mod background;
pub mod binary;
pub mod class_namespace;
pub mod connect;
pub mod disconnect;
pub mod engineio_edges;
pub mod errors;
pub mod heartbeat;
pub mod limits;
pub mod namespaces;
pub mod options;
pub mod ordering;
pub mod receiving;
pub mod recovery;
pub mod rooms;
pub mod sending;
pub mod server_acks;
pub mod session_request;
pub mod shutdown;

/// Calls `$callback!` with every case as `module::function`.
macro_rules! for_each_case {
    ($callback:ident) => {
        $callback! {
            acks::handler_results_are_acks,
            background::background_tasks_sleep_and_emit,
            binary::binary_attachments_both_ways,
            class_namespace::class_namespaces,
            connect::connect_handler_accepts_or_refuses,
            disconnect::disconnect_reasons,
            disconnect::server_side_disconnect,
            errors::error_handlers,
            heartbeat::heartbeats_keep_or_drop_the_connection,
            limits::lone_surrogates_are_relayed_unchanged,
            limits::too_many_pending_events_disconnect,
            limits::pending_events_pause_the_client,
            namespaces::namespaces_are_separate,
            options::always_connect_accepts_before_the_handler,
            options::allow_upgrades_off,
            options::polling_responses_are_compressed,
            ordering::events_of_one_client_run_in_order,
            ordering::events_of_one_client_run_concurrently_by_default,
            receiving::events_with_arguments,
            recovery::lost_connections_recover,
            rooms::rooms_join_leave_close,
            sending::emit_and_send_to_the_sender,
            sending::broadcast_rooms_and_skip_sid,
            sending::emits_from_other_threads_under_load,
            server_acks::emit_with_ack_and_call,
            session_request::session_and_handshake_request,
            shutdown::shutdown_delivers_then_closes,
            shutdown::io_shutdown_ends_serving,
        }
    };
}
pub(crate) use for_each_case;

/// Calls `$callback!` with every case that drives the wire itself (raw HTTP and WebSocket, no
/// [`Client`](crate::Client)), so that the client transport does not apply: each runs once
/// per runtime.
macro_rules! for_each_raw_case {
    ($callback:ident) => {
        $callback! {
            engineio_edges::client_close_over_polling,
            engineio_edges::extra_websockets_are_closed_after_the_handshake,
            engineio_edges::a_websocket_is_known_once_its_101_arrives,
            engineio_edges::a_get_right_after_the_upgrade_packet_is_refused,
        }
    };
}
pub(crate) use for_each_raw_case;
