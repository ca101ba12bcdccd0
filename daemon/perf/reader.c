/* reader.c: the thread that copies records out of the perf rings into a bounded queue. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "perf/reader.h"
#include "util.h"

#define READ_PERIOD_MS 50       /* every ring is read at least this often */
#define WAKE_BYTES (256 << 10)  /* queued bytes that wake the event loop before its cron */

static int batch_room(struct cpd_reader_batch *b, size_t bytes, size_t max)
{
  size_t cap = b->cap ? b->cap : 1 << 20;
  uint8_t *p;

  if (b->len + bytes <= b->cap)
    return 0;
  while (cap < b->len + bytes)
    cap *= 2;
  if (cap > max)
    cap = max;
  if (cap < b->len + bytes || !(p = realloc(b->buf, cap)))
    return -ENOMEM;
  b->buf = p;
  b->cap = cap;
  return 0;
}

static void batch_free(struct cpd_reader_batch *b)
{
  free(b->buf);
  free(b->order);
  memset(b, 0, sizeof(*b));
}

/* Appends one record to the queue (room for its bytes was made before the ring was read). */
static void copy_record(void *arg, const struct perf_event_header *h, size_t len)
{
  struct cpd_reader *r = arg;
  struct cpd_reader_batch *q = &r->queue;

  if (cpd_grow(&q->order, &q->order_cap, q->n, sizeof(*q->order)) < 0)
    return;  /* counted below as a bad round: the record is skipped */
  memcpy(q->buf + q->len, h, len);
  q->order[q->n].time = cpd_perf_record_time(h, len, r->sample_type);
  q->order[q->n].off = q->len;
  q->n++;
  q->len += len;
  r->records++;
}

static int cmp_ref(const void *a, const void *b)
{
  const struct cpd_reader_ref *x = a, *y = b;  /* equal times keep ring order */

  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Under the lock: one round, every ring's records copied while the queue has room, then
 * sorted by time among themselves (a thread's fork, rename, exec and mmaps may sit in
 * different CPUs' rings). Returns how many records it copied, or -1 when the queue was
 * full for some ring.
 */
static long read_round(struct cpd_reader *r)
{
  struct cpd_reader_batch *q = &r->queue;
  size_t first = q->n;
  int full = 0;

  for (int i = 0; i < r->nrings; i++) {
    struct cpd_perf_ring *ring = r->rings[i];
    uint64_t head;

    if (!ring->meta)
      continue;  /* not mapped yet */
    head = __atomic_load_n(&ring->meta->data_head, __ATOMIC_ACQUIRE);
    if (head == ring->meta->data_tail)
      continue;
    /* A ring never holds more than data_size bytes, so this room suffices; without it
     * the records stay in the ring, and the kernel drops and counts what follows. */
    if (batch_room(q, ring->data_size, r->max) < 0) {
      full = 1;
      continue;
    }
    if (cpd_perf_ring_read(ring, copy_record, r) < 0)
      r->bad = 1;
  }
  if (q->n > first) {
    cpd_qsort(q->order + first, q->n - first, sizeof(*q->order), cmp_ref);
    r->rounds++;
  }
  if (q->len > r->peak)
    r->peak = q->len;
  return full ? -1 : (long)(q->n - first);
}

/* The rings to wait on: those mapped that have an fd the kernel has not hung up. */
static nfds_t poll_set(struct cpd_reader *r)
{
  nfds_t n = 1;

  r->pollfds[0] = (struct pollfd){ .fd = r->stop_fd, .events = POLLIN };
  pthread_mutex_lock(&r->lock);
  for (int i = 0; i < r->nrings; i++)
    if (r->rings[i]->meta && r->rings[i]->fd >= 0 && !r->hung_up[i])
      r->pollfds[n++] = (struct pollfd){ .fd = r->rings[i]->fd, .events = POLLIN };
  pthread_mutex_unlock(&r->lock);
  return n;
}

/* A ring's event whose thread exited reports POLLHUP for good: it is read by the period
 * from then on, not waited on, or poll would return at once forever. */
static void note_hangups(struct cpd_reader *r, nfds_t n)
{
  for (nfds_t k = 1; k < n; k++)
    if (r->pollfds[k].revents & (POLLHUP | POLLERR | POLLNVAL))
      for (int i = 0; i < r->nrings; i++)
        if (r->rings[i]->fd == r->pollfds[k].fd)
          r->hung_up[i] = 1;
}

static void *reader_main(void *arg)
{
  struct cpd_reader *r = arg;
  uint64_t one = 1;

  for (;;) {
    nfds_t n = poll_set(r);
    int full;

    if (poll(r->pollfds, n, READ_PERIOD_MS) < 0 && errno != EINTR)
      break;
    if (r->pollfds[0].revents)
      break;
    pthread_mutex_lock(&r->lock);
    note_hangups(r, n);
    full = read_round(r) < 0;
    if (r->queue.len >= r->wake_bytes && !r->woken)
      r->woken = write(r->wake_fd, &one, sizeof(one)) == sizeof(one);
    pthread_mutex_unlock(&r->lock);
    if (full)  /* rings left unread stay readable: wait for the loop to take the queue */
      usleep(READ_PERIOD_MS * 1000);
  }
  return NULL;
}

int cpd_reader_start(struct cpd_reader *r, struct cpd_perf_ring **rings, int nrings,
                     uint64_t sample_type, size_t max)
{
  int rc;

  memset(r, 0, sizeof(*r));
  r->stop_fd = r->wake_fd = -1;
  if (!rings)
    return -ENOMEM;
  r->rings = rings;
  r->nrings = nrings;
  r->sample_type = sample_type;
  r->max = max;
  r->wake_bytes = WAKE_BYTES < max / 4 ? WAKE_BYTES : max / 4;
  r->pollfds = calloc((size_t)nrings + 1, sizeof(*r->pollfds));
  r->hung_up = calloc((size_t)nrings + 1, 1);
  if (!r->pollfds || !r->hung_up) {
    rc = -ENOMEM;
    goto out_close;
  }
  r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->stop_fd < 0 || r->wake_fd < 0) {
    rc = -errno;
    goto out_close;
  }
  pthread_mutex_init(&r->lock, NULL);
  rc = pthread_create(&r->thread, NULL, reader_main, r);
  if (rc != 0) {
    rc = -rc;
    pthread_mutex_destroy(&r->lock);
    goto out_close;
  }
  r->running = 1;
  return 0;
out_close:
  if (r->stop_fd >= 0)
    close(r->stop_fd);
  if (r->wake_fd >= 0)
    close(r->wake_fd);
  r->stop_fd = r->wake_fd = -1;
  return rc;  /* the caller's cpd_reader_stop frees the rest */
}

int cpd_reader_take(struct cpd_reader *r, cpd_perf_rec_fn fn, void *arg)
{
  struct cpd_reader_batch b;
  uint64_t count;
  int bad;

  if (!r->running)
    return 0;
  pthread_mutex_lock(&r->lock);
  read_round(r);
  b = r->queue;
  r->queue = r->spare;  /* the thread reads on into the other buffer */
  r->queue.len = r->queue.n = 0;
  bad = r->bad;
  r->bad = 0;
  if (r->woken && read(r->wake_fd, &count, sizeof(count)) < 0)
    count = 0;
  r->woken = 0;
  pthread_mutex_unlock(&r->lock);
  for (size_t i = 0; i < b.n; i++) {
    const struct perf_event_header *h = (const void *)(b.buf + b.order[i].off);

    fn(arg, h, h->size);
  }
  pthread_mutex_lock(&r->lock);
  r->spare = b;
  pthread_mutex_unlock(&r->lock);
  return bad ? -EBADMSG : (int)b.n;
}

void cpd_reader_hold(struct cpd_reader *r)
{
  if (r->running)
    pthread_mutex_lock(&r->lock);
}

void cpd_reader_release(struct cpd_reader *r)
{
  if (r->running)
    pthread_mutex_unlock(&r->lock);
}

void cpd_reader_stop(struct cpd_reader *r)
{
  uint64_t one = 1;

  if (r->running) {
    if (write(r->stop_fd, &one, sizeof(one)) != sizeof(one))
      pthread_cancel(r->thread);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    close(r->stop_fd);
    close(r->wake_fd);
    r->stop_fd = r->wake_fd = -1;
  }
  batch_free(&r->queue);
  batch_free(&r->spare);
  free(r->rings);
  free(r->pollfds);
  free(r->hung_up);
  r->rings = NULL;
  r->pollfds = NULL;
  r->hung_up = NULL;
  r->running = 0;
}
