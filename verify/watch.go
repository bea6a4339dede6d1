package verify

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// changes returns a channel that receives a value whenever an object the checks read
// changes: nodes, kube-system's pods and DaemonSets, and the service accounts of kube-system
// and of every expected account's namespace. Wait re-runs its failing checks on it instead
// of sleeping out a whole interval, so a pod that turns Ready is seen within a second rather
// than up to DefaultInterval later. Each watch starts at the resource version of a one-item
// list, so it reports only what changes from now on (a watch without one starts with an
// ADDED event per existing object). A watch that cannot be opened (RBAC may allow get and
// list but not watch) or that the server ends leaves the interval to wake Wait: it is an
// accelerator, never a condition.
func changes(ctx context.Context, client kubernetes.Interface, want Expectations) <-chan struct{} {
	ch := make(chan struct{}, 1)
	type lister func(context.Context, metav1.ListOptions) (string, error)
	type watcher func(context.Context, metav1.ListOptions) (watch.Interface, error)
	follow := func(list lister, open watcher) {
		rv, err := list(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			return
		}
		w, err := open(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: false})
		if err != nil {
			return
		}
		go func() {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						return
					}
					if ev.Type == watch.Error {
						return
					}
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			}
		}()
	}

	core, apps := client.CoreV1(), client.AppsV1()
	follow(versionOf(core.Nodes().List), core.Nodes().Watch)
	follow(versionOf(core.Pods(KubeSystem).List), core.Pods(KubeSystem).Watch)
	follow(versionOf(apps.DaemonSets(KubeSystem).List), apps.DaemonSets(KubeSystem).Watch)
	namespaces := map[string]bool{KubeSystem: true}
	for sa := range want.ServiceAccounts {
		namespaces[sa.Namespace] = true
	}
	for ns := range namespaces {
		sas := core.ServiceAccounts(ns)
		follow(versionOf(sas.List), sas.Watch)
	}
	return ch
}

// versionOf turns a typed List into what changes' follow reads: the list's resource version.
func versionOf[L metav1.ListInterface](list func(context.Context, metav1.ListOptions) (L, error)) func(context.Context, metav1.ListOptions) (string, error) {
	return func(ctx context.Context, o metav1.ListOptions) (string, error) {
		l, err := list(ctx, o)
		if err != nil {
			return "", err
		}
		return l.GetResourceVersion(), nil
	}
}
