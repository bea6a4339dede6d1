package moto

import (
	"context"
	"maps"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Calls counts the requests clients made from one aws.Config send, by operation: a
// middleware in the Finalize step after the retryer, so every attempt counts, a retried
// throttled call too.
type Calls struct {
	mu   sync.Mutex
	byOp map[string]int
}

// CountCalls makes every client built from cfg from now on count its requests in the result.
func CountCalls(cfg *aws.Config) *Calls {
	c := &Calls{byOp: map[string]int{}}
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("eksirsaCountCalls",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				c.byOp[awsmiddleware.GetServiceID(ctx)+" "+awsmiddleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
	return c
}

// Total is the number of requests counted.
func (c *Calls) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.byOp {
		n += v
	}
	return n
}

// ByOperation is the count per "<service> <operation>".
func (c *Calls) ByOperation() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byOp)
}

// Reset forgets what was counted.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.byOp)
}
