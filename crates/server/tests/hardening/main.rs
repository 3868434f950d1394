//! Invalid input over HTTP (issue #8): every route of the public router and of the admin API
//! fed invalid UTF-8, NUL bytes, a 1 MB body, a 16 KB parameter, wrong content types and wrong
//! methods answers 4xx (405 with `Allow` for a wrong method) — never a 5xx, a stack trace or
//! an internal error text — and reflected input is always HTML-escaped.
//!
//! The route list is read from the router's own sources (`src/http/mod.rs`) and the admin
//! API's route table, so a new route is covered without editing this file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod invalid_input;
mod reflection;
mod surface;
