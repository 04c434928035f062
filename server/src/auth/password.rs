//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, 2 passes, 1 lane).
//!
//! Hashing is slow and memory-hungry on purpose, so requests hash through [`Hashing`]: threads
//! of its own (one per core, at a lower priority than the threads answering requests), and a
//! bounded line of requests waiting for a turn. Past that line a request is answered `BUSY` at
//! once: when every student presses 로그인 in the same second, memory stays at a few hashes'
//! worth and the rest of the API keeps answering while logins queue.
//!
//! Each thread computes in one 19 MiB block of its own, allocated once and wiped after every
//! hash. Allocating it per hash, as argon2's own `hash_password` does, leaves the freed blocks
//! resident in the allocator: 300 logins on two threads kept 217 MB resident for good.

use std::cell::RefCell;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use super::AuthError;
use crate::domain::Password;

thread_local! {
    /// This thread's argon2 memory, reused from one hash to the next.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2id (`version`, `params`) over `password` and the decoded `salt` into `out`, in
/// this thread's memory, and wipes the memory afterwards.
fn argon2id_into(
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
        let done = argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..]);
        memory.fill(Block::default());
        done
    })
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &Password) -> Result<String, AuthError> {
    let failed = |e: &dyn std::fmt::Display| AuthError::Hashing(e.to_string());
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut decoded = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut decoded)
        .map_err(|e| failed(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let secret = password.expose().as_bytes();
    argon2id_into(Version::V0x13, params.clone(), secret, salt_bytes, &mut out)
        .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the argon2id PHC string `hash`, compared in constant time. A
/// malformed hash, or one of another algorithm, never matches.
pub fn verify(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let (Ok(params), Ok(version)) = (Params::try_from(&parsed), version) else {
        return false;
    };
    let mut decoded = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut decoded) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    parsed.algorithm == Algorithm::Argon2id.ident()
        && argon2id_into(version, params, password.as_bytes(), salt_bytes, &mut out).is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// A hash of a password nobody has, verified against when the account does not exist so that
/// a miss takes as long as a wrong password.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let decoy = Password::parse("classmate-decoy-password".into()).expect("long enough");
    hash(&decoy).expect("hashing a constant")
});

/// The bounded pool every request's hashing goes through: `workers` threads of its own, each
/// reusing its memory from one hash to the next, and a line of at most `queue` jobs.
///
/// Why its own threads: on the runtime's blocking pool each hash may land on another thread,
/// and each thread's allocator arena keeps the 19 MiB it freed; hundreds of logins then leave
/// hundreds of MiB resident for good. Here memory stays at about `workers` × 19 MiB.
pub struct Hashing {
    line: SyncSender<Job>,
    pace: Arc<Pace>,
}

/// How many hashes finished and how many requests were turned away, this second and the one
/// before: what the `Retry-After` of a `BUSY` answer is worked out from.
#[derive(Default)]
struct Pace(Mutex<PaceCounts>);

#[derive(Default, Clone, Copy)]
struct PaceCounts {
    second: u64,
    done: u32,
    busy: u32,
    done_before: u32,
    busy_before: u32,
}

impl Pace {
    /// The counts as of Unix second `now`.
    fn counts(&self, now: u64) -> std::sync::MutexGuard<'_, PaceCounts> {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if counts.second != now {
            let last_second = counts.second + 1 == now;
            *counts = PaceCounts {
                second: now,
                done_before: if last_second { counts.done } else { 0 },
                busy_before: if last_second { counts.busy } else { 0 },
                ..PaceCounts::default()
            };
        }
        counts
    }

    fn done(&self, now: u64) {
        self.counts(now).done += 1;
    }

    /// Notes a request turned away and returns the seconds after which its retry is likely to
    /// find room: as many as it takes the workers, at their pace, to serve the crowd being
    /// turned away each second. Spreading the retries so keeps the crowd from coming back all
    /// at once, every second, while the line is full.
    fn busy(&self, now: u64) -> u32 {
        let mut counts = self.counts(now);
        counts.busy += 1;
        let crowd = counts.busy.max(counts.busy_before);
        let served = counts.done_before.max(counts.done).max(1);
        crowd.div_ceil(served).clamp(1, MAX_RETRY_AFTER_SECONDS)
    }
}

/// The Unix second now.
fn this_second() -> u64 {
    crate::clock::now_ms().max(0) as u64 / 1000
}

/// The longest `Retry-After` a `BUSY` answer gives.
const MAX_RETRY_AFTER_SECONDS: u32 = 30;

/// How much less the hashing threads get of a busy CPU than the threads answering requests.
#[cfg(target_os = "linux")]
const HASHING_NICENESS: libc::c_int = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Makes the calling thread yield the CPU to the threads answering requests: hashing waits a
/// little longer under load, and the catalog stays fast meanwhile.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; the id is this very thread's.
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, HASHING_NICENESS);
    }
}

/// The workers the pool has by default: one per core. They run at a lower priority than the
/// threads answering requests, so the rest of the API keeps its share of the CPU.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Hashing {
    /// At most `workers` hashes at once (0: [`default_workers`]), at most `queue` more waiting.
    pub fn new(workers: usize, queue: usize) -> Hashing {
        let workers = match workers {
            0 => default_workers(),
            n => n,
        };
        let (line, jobs) = mpsc::sync_channel::<Job>(queue);
        let jobs = Arc::new(Mutex::new(jobs));
        let pace = Arc::new(Pace::default());
        for n in 0..workers {
            let (jobs, pace) = (jobs.clone(), pace.clone());
            std::thread::Builder::new()
                .name(format!("classmate-hash-{n}"))
                .spawn(move || {
                    lower_priority();
                    // The lock is held only while waiting for the next job.
                    while let Ok(job) = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                        job();
                        pace.done(this_second());
                    }
                })
                .expect("the system starts a hashing thread");
        }
        Hashing { line, pace }
    }

    /// Puts `job` in line: `Busy` at once when every worker is busy and the line is full.
    /// The answer comes on the receiver.
    fn submit<T, F>(&self, job: F) -> Result<oneshot::Receiver<T>, AuthError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            // A request given up meanwhile has dropped the receiver; the hash ran anyway.
            let _ = answer.send(job());
        });
        match self.line.try_send(job) {
            Ok(()) => Ok(answered),
            Err(TrySendError::Full(_)) => Err(AuthError::Busy {
                retry_after_seconds: self.pace.busy(this_second()),
            }),
            Err(TrySendError::Disconnected(_)) => {
                Err(AuthError::Hashing("no hashing thread".into()))
            }
        }
    }

    /// Runs `job` on a hashing thread; `Busy` at once when the line is full.
    pub async fn run<T, F>(&self, job: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.submit(job)?
            .await
            .map_err(|_| AuthError::Hashing("the hashing thread stopped".into()))
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: Password) -> Result<String, AuthError> {
        self.run(move || hash(&password)).await?
    }

    /// Whether `password` matches `hash`; with no stored hash it checks the decoy and answers
    /// false, so a miss takes as long as a wrong password.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AuthError> {
        self.run(move || match hash {
            Some(hash) => verify(&password, &hash),
            None => {
                verify(&password, &DECOY_HASH);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_workers_and_the_line_it_answers_busy_at_once() {
        let pool = Hashing::new(1, 1);
        // The first job holds the only worker until told to finish.
        let (started, running) = mpsc::channel::<()>();
        let (finish, finished) = mpsc::channel::<()>();
        let first = pool
            .submit(move || {
                started.send(()).unwrap();
                finished.recv().is_ok()
            })
            .unwrap();
        running.recv_timeout(Duration::from_secs(5)).unwrap();
        // The second waits in line; the third finds the line full.
        let second = pool.submit(|| 2).unwrap();
        assert!(matches!(pool.submit(|| 3), Err(AuthError::Busy { .. })));
        finish.send(()).unwrap();
        assert!(first.await.unwrap());
        assert_eq!(second.await.unwrap(), 2);
        // Everything given back: new jobs run, on the pool's own thread.
        let thread = pool.run(|| std::thread::current().name().map(str::to_owned));
        assert_eq!(thread.await.unwrap().as_deref(), Some("classmate-hash-0"));
    }

    #[test]
    fn retry_after_spreads_the_crowd_over_the_workers_pace() {
        let pace = Pace::default();
        let second = 1_770_685_200;
        // Last second: 40 hashes done and 400 turned away; now one more is turned away.
        *pace.0.lock().unwrap() = PaceCounts {
            second,
            done: 0,
            busy: 0,
            done_before: 40,
            busy_before: 400,
        };
        assert_eq!(pace.busy(second), 10);
        // A second later the crowd of this second counts: 1 turned away, none done.
        assert_eq!(pace.busy(second + 1), 1);
        // No pace known yet: a second; never more than the cap.
        let fresh = Pace::default();
        assert_eq!(fresh.busy(second), 1);
        *fresh.0.lock().unwrap() = PaceCounts {
            second,
            busy_before: 10_000,
            ..PaceCounts::default()
        };
        assert_eq!(fresh.busy(second), MAX_RETRY_AFTER_SECONDS);
    }

    #[test]
    fn hashes_agree_with_argon2s_own_in_both_directions() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default());
        let password = Password::parse("수강신청 성공!".into()).unwrap();
        // A hash stored before this module reused its memory still verifies, and the other way.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2
            .hash_password("수강신청 성공!".as_bytes(), &salt)
            .unwrap();
        assert!(verify("수강신청 성공!", &theirs.to_string()));
        assert!(!verify("수강신청 실패!", &theirs.to_string()));
        let ours = hash(&password).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2
                .verify_password("수강신청 성공!".as_bytes(), &parsed)
                .is_ok()
        );
        // Another algorithm with the same parameters is refused.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default());
        let other = argon2i
            .hash_password("수강신청 성공!".as_bytes(), &salt)
            .unwrap();
        assert!(!verify("수강신청 성공!", &other.to_string()));
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let password = Password::parse("수강신청 성공!".into()).unwrap();
        let first = hash(&password).unwrap();
        let second = hash(&password).unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify("수강신청 성공!", &first));
        assert!(verify("수강신청 성공!", &second));
        assert!(!verify("수강신청 실패!", &first));
        assert!(!verify("수강신청 성공!", "not a hash"));
        assert!(!verify("", &first));
    }
}
