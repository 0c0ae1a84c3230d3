//! The `trailscope` binary: argument parsing and printing (`cli`), over the library.

mod cli;

fn main() -> std::process::ExitCode {
    bound_allocator();
    cli::main()
}

/// glibc's allocator gives threads that contend their own arenas (up to eight per core), keeps
/// what they free there for reuse, and after each large free raises the size below which it
/// allocates from arenas (up to 32 MiB). Batches of tens of MiB then stay in the arenas of the
/// threads that decoded them, and a command's peak grows with every batch it has held: over the
/// hostile benchmark's archive `convert` peaked at 1.0 GB, 0.28 GB with these settings. One
/// arena per core, and buffers of 1 MiB or more always mapped (so given back when freed).
/// glibc's own `MALLOC_ARENA_MAX` or `MALLOC_MMAP_THRESHOLD_`, when set, leave it all as glibc
/// has it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_allocator() {
    if ["MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
    {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = i32::try_from(cores).unwrap_or(i32::MAX);
    // SAFETY: mallopt only sets allocator parameters, and no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_allocator() {}
