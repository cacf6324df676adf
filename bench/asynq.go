package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

const asynqTask = "bench:due"

// asynqRuns puts the lateness load through asynq, the usual Go choice for
// scheduled work on Redis, on the same server: as many jobs waiting far
// ahead, and the same number of jobs falling due at the same rate.
func (b *bench) asynqRuns(ctx context.Context, rs []*replica, res *Result, waiting int, fillRate float64) error {
	o := b.o
	enqT := newTally()
	ec := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{b.redis.Addr}, PoolSize: fillConns})
	defer ec.Close()
	ec.AddHook(enqT)
	client := asynq.NewClientFromRedisClient(ec)

	mem0, _, err := usedMemory(ctx, b.rc)
	if err != nil {
		return err
	}
	far := time.Now().Add(farAhead)
	if err := enqueue(ctx, client, waiting, func(int) time.Time { return far }); err != nil {
		return err
	}
	mem1, _, err := usedMemory(ctx, b.rc)
	if err != nil {
		return err
	}
	bytesPerWaiting := per(float64(mem1-mem0), float64(waiting))

	for _, iv := range o.AsynqCheckIntervals {
		o.Logger.Info("asynq run", "delayed_task_check_interval", iv)
		ar, err := b.asynqRun(ctx, rs, client, enqT, waiting, iv, fillRate)
		if err != nil {
			return err
		}
		ar.BytesPerWaiting = bytesPerWaiting
		res.Asynq = append(res.Asynq, ar)
	}
	return nil
}

func enqueue(ctx context.Context, c *asynq.Client, n int, at func(int) time.Time) error {
	return inParallel(0, n, func(i int) error {
		t := at(i)
		payload := binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
		payload = binary.BigEndian.AppendUint64(payload, uint64(i))
		if _, err := c.EnqueueContext(ctx, asynq.NewTask(asynqTask, payload), asynq.ProcessAt(t)); err != nil {
			return fmt.Errorf("asynq enqueue: %w", err)
		}
		return nil
	})
}

func (b *bench) asynqRun(ctx context.Context, rs []*replica, client *asynq.Client, enqT *tally, waiting int, iv time.Duration, fillRate float64) (AsynqRun, error) {
	o := b.o
	m := o.DueRate * int(o.DueDuration/time.Millisecond) / 1000
	ar := AsynqRun{CheckIntervalMS: ms(iv), Waiting: waiting, Jobs: m}
	if iv == 0 {
		ar.CheckIntervalMS = 5000 // asynq's default
	}
	t0 := time.Now().Add(time.Second + time.Duration(1.5*float64(m)/fillRate*float64(time.Second)))
	_, c0 := enqT.snapshot()
	if err := enqueue(ctx, client, m, func(i int) time.Time {
		return t0.Add(time.Duration(i) * time.Second / time.Duration(o.DueRate))
	}); err != nil {
		return ar, err
	}
	_, c1 := enqT.snapshot()
	ar.EnqueueCommands = per(float64(c1.sub(c0).total()), float64(m))

	var mu sync.Mutex
	late := make([]time.Duration, 0, m)
	all := make(chan struct{})
	handler := asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		now := time.Now()
		p := t.Payload()
		if len(p) < 8 {
			return fmt.Errorf("short payload")
		}
		due := time.Unix(0, int64(binary.BigEndian.Uint64(p)))
		mu.Lock()
		late = append(late, now.Sub(due))
		if len(late) == m {
			close(all)
		}
		mu.Unlock()
		return nil
	})
	srvT := newTally()
	sc := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{b.redis.Addr}})
	defer sc.Close()
	sc.AddHook(srvT)
	// A tuned run also shortens the wait of an idle processor (1s by
	// default), or the forwarder's shorter interval would not show.
	srv := asynq.NewServerFromRedisClient(sc, asynq.Config{
		Concurrency: 16, DelayedTaskCheckInterval: iv, TaskCheckInterval: iv, LogLevel: asynq.ErrorLevel,
	})
	time.Sleep(time.Until(t0.Add(-500 * time.Millisecond)))
	before, err := b.snap(ctx, rs)
	if err != nil {
		return ar, err
	}
	rt0, _ := srvT.snapshot()
	if err := srv.Start(handler); err != nil {
		return ar, fmt.Errorf("asynq server: %w", err)
	}
	select {
	case <-all:
	case <-time.After(time.Until(t0.Add(o.DueDuration + iv + 30*time.Second))):
		o.Logger.Warn("asynq did not process every job in time")
	case <-ctx.Done():
	}
	after, err := b.snap(ctx, rs)
	if err != nil {
		return ar, err
	}
	rt1, _ := srvT.snapshot()
	srv.Shutdown()
	// The replica keeps polling its own namespace meanwhile; its commands
	// are not asynq's.
	ar.Commands = commandsBetween(before, after, after.replicas.sub(before.replicas))
	mu.Lock()
	ar.Processed = len(late)
	ar.Lateness = summarize(late)
	mu.Unlock()
	ar.CommandsPerJob = per(float64(ar.Commands.total()), float64(m))
	ar.RoundTripsPerJob = per(float64(rt1-rt0), float64(m))
	// The idle replica's share of Redis CPU is left in: it is small.
	ar.RedisCPUmsPerJob = per(float64(after.redisCPU-before.redisCPU)/1e6, float64(m))
	return ar, nil
}
