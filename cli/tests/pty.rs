//! The progress bar as a person sees it: drawn on a terminal (a pty here),
//! never written into a pipe.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A pseudo-terminal 100 columns wide: (the side we read, the side the
/// child writes to).
fn pty() -> (File, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fresh descriptors into the out-pointers;
    // the name pointer may be null, and the termios pointer is null (the
    // defaults), the winsize one points at a live value.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and owned by nobody else.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn the_progress_bar_draws_on_a_terminal_and_is_cleared() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let events = std::fs::read(root.join("examples/sop/events.jsonl")).expect("events");
    let (mut terminal, slave) = pty();
    let mut child = Command::new(env!("CARGO_BIN_EXE_siyu"))
        .args(["replay"])
        .arg(root.join("examples/sop/sop.siyu"))
        .arg("-")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("the siyu binary runs");
    // Half the stream, a pause longer than the bar's tick, the rest: the
    // bar has drawn at least once with a rate in it, whatever the speed.
    let mut stdin = child.stdin.take().expect("stdin");
    let half = events.len() / 2;
    let half = half
        + events[half..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("a line end")
        + 1;
    let feeder = std::thread::spawn(move || {
        stdin.write_all(&events[..half]).expect("first half");
        std::thread::sleep(Duration::from_millis(800));
        stdin.write_all(&events[half..]).expect("second half");
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).expect("stdout");
        out
    });
    // Read the terminal until the child has gone (the read then fails
    // with EIO once no one holds the other side).
    let mut screen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match terminal.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => screen.extend_from_slice(&buf[..n]),
        }
    }
    feeder.join().expect("feeder");
    let actions = reader.join().expect("reader");
    assert!(child.wait().expect("siyu exits").success());
    let screen = String::from_utf8_lossy(&screen);
    assert!(
        screen.contains("events/s") && screen.contains("customers") && screen.contains("actions"),
        "the bar shows rate, customers and actions:\n{screen:?}"
    );
    // Cleared at the end: the last thing on the line is an erase.
    assert!(
        screen.contains("\x1b[2K") || screen.contains("\x1b[K"),
        "{screen:?}"
    );
    // The actions went to stdout, untouched by the bar.
    let golden = std::fs::read(root.join("tests/data/golden/sop.actions.jsonl")).expect("golden");
    assert!(actions == golden, "stdout is the golden actions");
}
