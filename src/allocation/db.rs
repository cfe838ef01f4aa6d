//! SQL for allocation requests, picks and shipments.
