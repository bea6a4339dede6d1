package statelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"

	"gocloud.dev/gcerrors"
)

// asideKey is where eksirsa keeps a document of its own about project/stack beside the diy
// backend's state (outside the CLI's bookkeeping directory), where every machine that runs the
// stack finds it.
func asideKey(kind, project, stackName string) string {
	return path.Join(".eksirsa", kind, project, stackName+".json")
}

// SaveAside writes eksirsa's document of kind for project/stack beside the state of the diy
// backend at backendURL (ErrUnreadable for other backends).
func SaveAside(ctx context.Context, backendURL, kind, project, stackName string, data []byte) error {
	bucket, where, err := open(ctx, backendURL)
	if err != nil {
		return err
	}
	defer bucket.Close()
	key := asideKey(kind, project, stackName)
	if err := bucket.WriteAll(ctx, key, data, nil); err != nil {
		return fmt.Errorf("write %s: %w", where(key), err)
	}
	return nil
}

// LoadAside reads what SaveAside wrote; nil when there is none.
func LoadAside(ctx context.Context, backendURL, kind, project, stackName string) ([]byte, error) {
	bucket, where, err := open(ctx, backendURL)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // a file backend not made yet holds nothing
	}
	if err != nil {
		return nil, err
	}
	defer bucket.Close()
	key := asideKey(kind, project, stackName)
	data, err := bucket.ReadAll(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", where(key), err)
	}
	return data, nil
}

// DropAside deletes what SaveAside wrote.
func DropAside(ctx context.Context, backendURL, kind, project, stackName string) error {
	bucket, where, err := open(ctx, backendURL)
	if errors.Is(err, os.ErrNotExist) {
		return nil // a file backend not made yet holds nothing
	}
	if err != nil {
		return err
	}
	defer bucket.Close()
	key := asideKey(kind, project, stackName)
	if err := deleteKey(ctx, bucket, key); err != nil {
		return fmt.Errorf("delete %s: %w", where(key), err)
	}
	return nil
}
