//! PAM for the password verifier: one transaction per question, `pam_authenticate` then
//! `pam_acct_mgmt`, through libpam (declarations from `libpam-sys`).
//!
//! Stage: authentication, inside the confined verifier (see `verifier::pam` for what the
//! result means).
//!
//! Why raw FFI and not a wrapper crate: the verifier is single-threaded, and Linux-PAM sleeps
//! inside `pam_authenticate` after a failure (pam_unix asks for ~2 s) unless the application
//! installs a `PAM_FAIL_DELAY` function. One wrong password would stall every child's question
//! for that long. The wrappers we looked at (`nonstick`, `pam-client`) do not expose the item;
//! here it is a function that does not sleep, and the verifier's own per-source slowdown
//! (`verifier::cache::FailureTable`) throttles guessing instead, without blocking others.
//!
//! The conversation answers exactly one `PAM_PROMPT_ECHO_ON` (the user name) and one
//! `PAM_PROMPT_ECHO_OFF` (the password), records `PAM_ERROR_MSG`/`PAM_TEXT_INFO` messages for
//! the log, and fails (`PAM_CONV_ERR`) on anything else: a second prompt (a one-time code, a
//! new password), a radio or binary prompt. Copies of the password handed to PAM are wiped
//! before they are freed when the conversation fails; those PAM accepted are PAM's to wipe
//! (Linux-PAM overwrites `PAM_AUTHTOK` at `pam_end`).
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::ptr;

use libpam_sys as pam;
use zeroize::Zeroizing;

/// Longest message kept from a conversation, and how many are kept.
const MAX_MESSAGE: usize = 256;
const MAX_MESSAGES: usize = 8;

/// What one transaction returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `pam_authenticate`'s return code.
    pub authenticate: c_int,
    /// `pam_acct_mgmt`'s, asked only after a successful authentication.
    pub account: Option<c_int>,
    /// What the conversation refused, if it did.
    pub refused_prompt: Option<String>,
    /// Error and info messages the modules sent.
    pub messages: Vec<String>,
}

/// Why no transaction ran.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0} contains a NUL byte")]
    Nul(&'static str),
    #[error("pam_start for service '{service}' failed: {why}")]
    Start { service: String, why: String },
    #[error("pam_set_item({item}) failed: {why}")]
    SetItem { item: &'static str, why: String },
}

/// The human text of a PAM return code.
pub fn strerror(code: c_int) -> String {
    // SAFETY: Linux-PAM ignores the handle and returns a pointer to a static string (or null);
    // null is checked before it is read.
    let s = unsafe { pam::pam_strerror(ptr::null(), code) };
    if s.is_null() {
        return format!("PAM error {code}");
    }
    // SAFETY: non-null, NUL-terminated and static (see above).
    unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned()
}

/// State the conversation function reads and writes through `appdata_ptr`.
struct ConvState {
    user: CString,
    password: Zeroizing<Vec<u8>>,
    user_given: bool,
    password_given: bool,
    refused: Option<String>,
    messages: Vec<String>,
}

/// Runs `pam_authenticate` and, when it succeeds, `pam_acct_mgmt` for `user` in `service`,
/// with `rhost` as `PAM_RHOST`. Flags: `PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK` (an empty
/// password never authenticates, whatever `nullok` says).
pub fn authenticate(
    service: &str,
    user: &str,
    password: &[u8],
    rhost: &str,
) -> Result<Outcome, StartError> {
    let c_service = CString::new(service).map_err(|_| StartError::Nul("service"))?;
    let c_user = CString::new(user).map_err(|_| StartError::Nul("user name"))?;
    let c_rhost = CString::new(rhost).map_err(|_| StartError::Nul("remote host"))?;
    if password.contains(&0) {
        return Err(StartError::Nul("password"));
    }
    let mut pw = Zeroizing::new(Vec::with_capacity(password.len() + 1));
    pw.extend_from_slice(password);
    pw.push(0);
    let mut state = ConvState {
        user: c_user.clone(),
        password: pw,
        user_given: false,
        password_given: false,
        refused: None,
        messages: Vec::new(),
    };
    let mut conv = pam::pam_conv {
        conv: converse,
        appdata_ptr: (&mut state as *mut ConvState).cast(),
    };
    let mut handle: *mut pam::pam_handle = ptr::null_mut();
    // SAFETY: the strings are NUL-terminated and live until the end of this function; `conv`
    // and the `state` it points to live until after `pam_end` below; `handle` is an out
    // pointer to a local.
    let rc = unsafe { pam::pam_start(c_service.as_ptr(), c_user.as_ptr(), &mut conv, &mut handle) };
    if rc != pam::PAM_SUCCESS || handle.is_null() {
        if !handle.is_null() {
            // SAFETY: a handle pam_start returned, ended once.
            unsafe { pam::pam_end(handle, rc) };
        }
        return Err(StartError::Start {
            service: service.to_string(),
            why: strerror(rc),
        });
    }
    let outcome = run(handle, &c_rhost);
    let last = match &outcome {
        Ok(o) => o.account.unwrap_or(o.authenticate),
        Err(_) => pam::PAM_ABORT,
    };
    // SAFETY: the handle from pam_start, ended exactly once; nothing uses it afterwards.
    unsafe { pam::pam_end(handle, last) };
    let mut o = outcome?;
    o.refused_prompt = state.refused.take();
    o.messages = std::mem::take(&mut state.messages);
    Ok(o)
}

fn run(handle: *mut pam::pam_handle, rhost: &CStr) -> Result<Outcome, StartError> {
    // SAFETY: a live handle; PAM copies the string.
    let rc = unsafe { pam::pam_set_item(handle, pam::PAM_RHOST, rhost.as_ptr().cast()) };
    if rc != pam::PAM_SUCCESS {
        return Err(StartError::SetItem {
            item: "PAM_RHOST",
            why: strerror(rc),
        });
    }
    let delay: unsafe extern "C" fn(c_int, c_uint, *mut c_void) = no_delay;
    // SAFETY: a live handle; for PAM_FAIL_DELAY Linux-PAM stores the pointer as a function of
    // exactly this signature (pam_set_item(3)), and `no_delay` is a static function.
    let rc = unsafe { pam::pam_set_item(handle, pam::PAM_FAIL_DELAY, delay as *const c_void) };
    if rc != pam::PAM_SUCCESS {
        return Err(StartError::SetItem {
            item: "PAM_FAIL_DELAY",
            why: strerror(rc),
        });
    }
    let flags = pam::PAM_SILENT | pam::PAM_DISALLOW_NULL_AUTHTOK;
    // SAFETY: a live handle; the conversation state it reaches lives in the caller's frame.
    let authenticate = unsafe { pam::pam_authenticate(handle, flags) };
    let account = (authenticate == pam::PAM_SUCCESS).then(|| {
        // SAFETY: as above.
        unsafe { pam::pam_acct_mgmt(handle, flags) }
    });
    Ok(Outcome {
        authenticate,
        account,
        refused_prompt: None,
        messages: Vec::new(),
    })
}

/// The `PAM_FAIL_DELAY` function: Linux-PAM calls it instead of sleeping after a failure.
unsafe extern "C" fn no_delay(_retval: c_int, _usec: c_uint, _appdata: *mut c_void) {}

/// A malloc'ed copy of `bytes` (NUL-terminated already), or null when allocation fails.
fn c_copy(bytes: &[u8]) -> *mut c_char {
    // SAFETY: malloc of a non-zero size; the result is checked for null before use.
    let p = unsafe { libc::malloc(bytes.len().max(1)) }.cast::<u8>();
    if !p.is_null() {
        // SAFETY: `p` has room for `bytes.len()` bytes and does not overlap `bytes`.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    }
    p.cast()
}

/// Wipes and frees what `converse` allocated so far.
///
/// # Safety
/// `replies` is a calloc'ed array of `n` responses whose `resp` fields are null or malloc'ed
/// NUL-terminated strings.
unsafe fn free_replies(replies: *mut pam::pam_response, n: usize) {
    for i in 0..n {
        // SAFETY: i < n, inside the array (caller's contract).
        let r = unsafe { &mut *replies.add(i) };
        if !r.resp.is_null() {
            // SAFETY: a NUL-terminated malloc'ed string (caller's contract): wiped over its
            // length, then freed once.
            unsafe {
                let len = libc::strlen(r.resp);
                ptr::write_bytes(r.resp, 0, len);
                libc::free(r.resp.cast());
            }
            r.resp = ptr::null_mut();
        }
    }
    // SAFETY: the calloc'ed array itself, freed once.
    unsafe { libc::free(replies.cast()) };
}

/// The conversation function (pam_conv(3)). Linux-PAM passes `msg` as an array of `num_msg`
/// pointers to messages.
unsafe extern "C" fn converse(
    num_msg: c_int,
    msg: *const *const pam::pam_message,
    resp: *mut *mut pam::pam_response,
    appdata: *mut c_void,
) -> c_int {
    let n = match usize::try_from(num_msg) {
        Ok(n) if n > 0 && n <= pam::PAM_MAX_NUM_MSG as usize => n,
        _ => return pam::PAM_CONV_ERR,
    };
    if msg.is_null() || resp.is_null() || appdata.is_null() {
        return pam::PAM_CONV_ERR;
    }
    // SAFETY: `appdata` is the `ConvState` `authenticate` registered; it outlives the
    // transaction and nothing else touches it while PAM runs.
    let state = unsafe { &mut *appdata.cast::<ConvState>() };
    // SAFETY: calloc with a non-zero count; checked for null.
    let replies = unsafe { libc::calloc(n, std::mem::size_of::<pam::pam_response>()) }
        .cast::<pam::pam_response>();
    if replies.is_null() {
        return pam::PAM_BUF_ERR;
    }
    for i in 0..n {
        // SAFETY: Linux-PAM's layout: `msg` points to `num_msg` valid message pointers.
        let m = unsafe { *msg.add(i) };
        let answer = if m.is_null() {
            Err("a null message".to_string())
        } else {
            // SAFETY: a valid message for the duration of this call.
            let m = unsafe { &*m };
            answer(state, m)
        };
        match answer {
            Ok(p) => {
                // SAFETY: i < n, inside the calloc'ed array.
                unsafe { (*replies.add(i)).resp = p };
            }
            Err(why) => {
                if state.refused.is_none() {
                    state.refused = Some(why);
                }
                // SAFETY: the array and the strings this call allocated, nothing else.
                unsafe { free_replies(replies, n) };
                return pam::PAM_CONV_ERR;
            }
        }
    }
    // SAFETY: `resp` is PAM's out pointer; PAM frees the array and its strings.
    unsafe { *resp = replies };
    pam::PAM_SUCCESS
}

/// The reply to one message: a malloc'ed string, null for a message that wants none, or why
/// the conversation refuses.
fn answer(state: &mut ConvState, m: &pam::pam_message) -> Result<*mut c_char, String> {
    let text = if m.msg.is_null() {
        String::new()
    } else {
        // SAFETY: PAM's message text is NUL-terminated and valid during the call.
        let t = unsafe { CStr::from_ptr(m.msg) }.to_string_lossy();
        t.chars().take(MAX_MESSAGE).collect()
    };
    let copy = |bytes: &[u8]| {
        let p = c_copy(bytes);
        if p.is_null() {
            Err("out of memory".to_string())
        } else {
            Ok(p)
        }
    };
    match m.msg_style {
        pam::PAM_PROMPT_ECHO_OFF if !state.password_given => {
            state.password_given = true;
            copy(&state.password)
        }
        pam::PAM_PROMPT_ECHO_ON if !state.user_given => {
            state.user_given = true;
            copy(state.user.as_bytes_with_nul())
        }
        pam::PAM_ERROR_MSG | pam::PAM_TEXT_INFO => {
            if state.messages.len() < MAX_MESSAGES {
                state.messages.push(text);
            }
            Ok(ptr::null_mut())
        }
        pam::PAM_PROMPT_ECHO_OFF | pam::PAM_PROMPT_ECHO_ON => {
            Err(format!("a second prompt ({text:?})"))
        }
        other => Err(format!("a prompt of style {other} ({text:?})")),
    }
}
