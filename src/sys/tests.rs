//! Tests of what Linux says about our own sockets and processes.

use super::*;

#[test]
fn finds_our_own_listener() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = listener_of(addr).expect("our listener is found");
    assert_eq!(holder.pid, std::process::id());
    // A port nobody listens on has no holder.
    drop(listener);
    assert_eq!(listener_of(addr), None);
}

#[test]
fn reads_both_tables() {
    let v4 = "  sl  local_address rem_address   st\n   0: 0100007F:270F 00000000:0000 0A 0 0 0 0 0 42 1\n";
    let at = |s: &str| s.parse::<SocketAddr>().unwrap();
    assert_eq!(imp::listening_inode(v4, at("127.0.0.1:9999")), Some(42));
    assert_eq!(imp::listening_inode(v4, at("0.0.0.0:9999")), Some(42));
    assert_eq!(imp::listening_inode(v4, at("127.0.0.1:9998")), None);
    let v6 = "  sl  local\n   0: 00000000000000000000000001000000:270F 0 0A 0 0 0 0 0 7 1\n";
    assert_eq!(imp::listening_inode(v6, at("[::1]:9999")), Some(7));
    let not_listening = v4.replace(" 0A ", " 01 ");
    assert_eq!(
        imp::listening_inode(&not_listening, at("127.0.0.1:9999")),
        None
    );
}

#[test]
fn a_closed_connection_is_found_in_time_wait_on_the_side_that_closed_first() {
    // A real connection on loopback: the server's side closes first,
    // so its end waits in TIME_WAIT and the client's is gone.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let client = std::net::TcpStream::connect(server_addr).unwrap();
    let client_addr = client.local_addr().unwrap();
    let (accepted, _) = listener.accept().unwrap();
    assert_eq!(
        tcp_state(client_addr, server_addr),
        Some(Some("ESTABLISHED"))
    );
    drop(accepted);
    let mut end = [0u8; 1];
    use std::io::Read;
    assert_eq!((&client).read(&mut end).unwrap(), 0);
    drop(client);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while tcp_state(server_addr, client_addr) != Some(Some("TIME_WAIT")) {
        assert!(std::time::Instant::now() < deadline, "no TIME_WAIT");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(tcp_state(client_addr, server_addr), Some(None));
}
