package awsemu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const asgResourceType = "auto-scaling-group"

func init() {
	register(&Kind{
		Token:    "aws:autoscaling/group:Group",
		Schema:   groupSchema,
		AutoName: true,
		Create:   createGroup,
		Read:     readGroup,
		Update:   updateGroup,
		Delete:   deleteGroup,
	})
}

func asgTags(name string, news resource.PropertyMap) []astypes.Tag {
	var out []astypes.Tag
	for _, t := range getObjs(news, "tags") {
		p, _ := getBool(t, "propagateAtLaunch")
		out = append(out, astypes.Tag{Key: getStrPtr(t, "key"), Value: aws.String(getStr(t, "value")), PropagateAtLaunch: aws.Bool(p),
			ResourceId: aws.String(name), ResourceType: aws.String(asgResourceType)})
	}
	return out
}

func asgLaunchTemplate(news resource.PropertyMap) *astypes.LaunchTemplateSpecification {
	lt := getObj(news, "launchTemplate")
	if lt == nil {
		return nil
	}
	return &astypes.LaunchTemplateSpecification{LaunchTemplateId: getStrPtr(lt, "id"), LaunchTemplateName: getStrPtr(lt, "name"), Version: getStrPtr(lt, "version")}
}

func createGroup(ctx context.Context, c *Clients, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	if err := notEmulated(news, "aws:autoscaling/group:Group", "mixedInstancesPolicy", "warmPool", "initialLifecycleHooks",
		"launchConfiguration", "loadBalancers", "targetGroupArns", "trafficSources", "availabilityZoneDistribution"); err != nil {
		return "", nil, err
	}
	name := getStr(news, "name")
	if name == "" {
		return "", nil, errors.New("no name: Check names every auto scaling group")
	}
	in := &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName:   aws.String(name),
		LaunchTemplate:         asgLaunchTemplate(news),
		MinSize:                getInt32(news, "minSize"),
		MaxSize:                getInt32(news, "maxSize"),
		DesiredCapacity:        getInt32(news, "desiredCapacity"),
		AvailabilityZones:      getStrs(news, "availabilityZones"),
		HealthCheckType:        getStrPtr(news, "healthCheckType"),
		HealthCheckGracePeriod: getInt32(news, "healthCheckGracePeriod"),
		DefaultCooldown:        getInt32(news, "defaultCooldown"),
		TerminationPolicies:    getStrs(news, "terminationPolicies"),
		Tags:                   asgTags(name, news),
	}
	if subnets := getStrs(news, "vpcZoneIdentifiers"); len(subnets) > 0 {
		in.VPCZoneIdentifier = aws.String(strings.Join(subnets, ","))
	}
	if p, set := getBool(news, "protectFromScaleIn"); set {
		in.NewInstancesProtectedFromScaleIn = aws.Bool(p)
	}
	if _, err := c.AutoScaling.CreateAutoScalingGroup(ctx, in); err != nil {
		return "", nil, fmt.Errorf("creating Auto Scaling Group (%s): %w", name, err)
	}
	if err := waitForCapacity(ctx, c, name, news); err != nil {
		// Created but short of capacity: the id goes to the engine, so destroy removes it.
		return name, nil, err
	}
	outs, err := readGroup(ctx, c, name, news)
	return name, outs, err
}

// waitForCapacity is the real provider's wait_for_capacity_timeout: until the group has
// desiredCapacity (or minSize) InService instances; "0" skips it.
func waitForCapacity(ctx context.Context, c *Clients, name string, news resource.PropertyMap) error {
	timeout := 10 * time.Minute
	if s := getStr(news, "waitForCapacityTimeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("waitForCapacityTimeout = %q: %w", s, err)
		}
		timeout = d
	}
	if timeout == 0 {
		return nil
	}
	want, ok := getInt(news, "desiredCapacity")
	if !ok {
		want, _ = getInt(news, "minSize")
	}
	return waitFor(ctx, fmt.Sprintf("Auto Scaling Group (%s) capacity %d", name, want), timeout, func() (bool, error) {
		g, err := describeGroup(ctx, c, name)
		if err != nil || g == nil {
			return false, err
		}
		in := 0
		for _, i := range g.Instances {
			if i.LifecycleState == astypes.LifecycleStateInService {
				in++
			}
		}
		return in >= want, nil
	})
}

func describeGroup(ctx context.Context, c *Clients, name string) (*astypes.AutoScalingGroup, error) {
	out, err := c.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, err
	}
	for i := range out.AutoScalingGroups {
		if aws.ToString(out.AutoScalingGroups[i].AutoScalingGroupName) == name {
			return &out.AutoScalingGroups[i], nil
		}
	}
	return nil, nil
}

func readGroup(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) (resource.PropertyMap, error) {
	g, err := describeGroup(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if g == nil || aws.ToString(g.Status) == "Delete in progress" {
		return nil, ErrNotFound
	}
	var subnets []string
	if v := aws.ToString(g.VPCZoneIdentifier); v != "" {
		subnets = strings.Split(v, ",")
	}
	if cfg := getStrs(olds, "vpcZoneIdentifiers"); sameSet(cfg, subnets) {
		subnets = cfg // a set in the real provider
	}
	outs := outMap(map[string]any{
		"arn":                    aws.ToString(g.AutoScalingGroupARN),
		"name":                   aws.ToString(g.AutoScalingGroupName),
		"minSize":                aws.ToInt32(g.MinSize),
		"maxSize":                aws.ToInt32(g.MaxSize),
		"desiredCapacity":        aws.ToInt32(g.DesiredCapacity),
		"vpcZoneIdentifiers":     nonNil(subnets),
		"availabilityZones":      nonNil(g.AvailabilityZones),
		"healthCheckType":        aws.ToString(g.HealthCheckType),
		"healthCheckGracePeriod": aws.ToInt32(g.HealthCheckGracePeriod),
		"defaultCooldown":        aws.ToInt32(g.DefaultCooldown),
		"serviceLinkedRoleArn":   aws.ToString(g.ServiceLinkedRoleARN),
		"terminationPolicies":    nonNil(g.TerminationPolicies),
	})
	if lt := g.LaunchTemplate; lt != nil {
		version := aws.ToString(lt.Version)
		// "$Latest" and "$Default" stand for whatever version is current: AWS reports them
		// as given, a number as the number.
		live := map[string]any{"id": aws.ToString(lt.LaunchTemplateId), "name": aws.ToString(lt.LaunchTemplateName), "version": version}
		outs["launchTemplate"] = outVal(live)
	}
	// tags is a set of {key, value, propagateAtLaunch}: the configured order when equal.
	live := map[string]resource.PropertyMap{}
	var keys []string
	for _, t := range g.Tags {
		k := aws.ToString(t.Key)
		keys = append(keys, k)
		live[k] = outMap(map[string]any{"key": k, "value": aws.ToString(t.Value), "propagateAtLaunch": resource.NewBoolProperty(aws.ToBool(t.PropagateAtLaunch))})
	}
	var cfgKeys []string
	for _, t := range getObjs(olds, "tags") {
		cfgKeys = append(cfgKeys, getStr(t, "key"))
	}
	if sameSet(cfgKeys, keys) {
		keys = cfgKeys
	} else {
		slices.Sort(keys)
	}
	tags := make([]resource.PropertyValue, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, resource.NewObjectProperty(live[k]))
	}
	outs["tags"] = resource.NewArrayProperty(tags)
	return withInputs(outs, olds), nil
}

// updateGroup sends only what changed against the state, as terraform-provider-aws
// internal/service/autoscaling/group.go resourceGroupUpdate does (each field under
// d.HasChange), and waits for capacity only when min_size or desired_capacity changed
// (shouldWaitForCapacity): a launch template bump must not reset the desired capacity
// cluster-autoscaler set, nor wait on it.
func updateGroup(ctx context.Context, c *Clients, id string, olds, news resource.PropertyMap) (resource.PropertyMap, error) {
	// d.HasChange as the plan decides it (the schema table: computed ids, sets as sets).
	changed := func(k string) bool {
		key := resource.PropertyKey(k)
		return len(diffState(Schema{k: groupSchema[k]}, resource.PropertyMap{key: olds[key]}, resource.PropertyMap{key: news[key]})) > 0
	}
	in := &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: aws.String(id)}
	send, waitCapacity := false, false
	if changed("minSize") {
		in.MinSize, send, waitCapacity = getInt32(news, "minSize"), true, true
	}
	if changed("desiredCapacity") {
		in.DesiredCapacity, send, waitCapacity = getInt32(news, "desiredCapacity"), true, true
	}
	if changed("maxSize") {
		in.MaxSize, send = getInt32(news, "maxSize"), true
	}
	if changed("launchTemplate") {
		in.LaunchTemplate, send = asgLaunchTemplate(news), true
	}
	if changed("healthCheckType") {
		in.HealthCheckType, send = getStrPtr(news, "healthCheckType"), true
	}
	if changed("healthCheckGracePeriod") {
		in.HealthCheckGracePeriod, send = getInt32(news, "healthCheckGracePeriod"), true
	}
	if changed("defaultCooldown") {
		in.DefaultCooldown, send = getInt32(news, "defaultCooldown"), true
	}
	if changed("vpcZoneIdentifiers") {
		in.VPCZoneIdentifier, send = aws.String(strings.Join(getStrs(news, "vpcZoneIdentifiers"), ",")), true
	}
	if send {
		if _, err := c.AutoScaling.UpdateAutoScalingGroup(ctx, in); err != nil {
			return nil, fmt.Errorf("updating Auto Scaling Group (%s): %w", id, err)
		}
	}
	// Tags: delete the keys that went, create or update the rest.
	newTags := asgTags(id, news)
	var gone []astypes.Tag
	for _, t := range getObjs(olds, "tags") {
		if !slices.ContainsFunc(newTags, func(n astypes.Tag) bool { return aws.ToString(n.Key) == getStr(t, "key") }) {
			gone = append(gone, astypes.Tag{Key: getStrPtr(t, "key"), ResourceId: aws.String(id), ResourceType: aws.String(asgResourceType)})
		}
	}
	if len(gone) > 0 {
		if _, err := c.AutoScaling.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: gone}); err != nil {
			return nil, fmt.Errorf("deleting Auto Scaling Group (%s) tags: %w", id, err)
		}
	}
	if len(newTags) > 0 {
		if _, err := c.AutoScaling.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: newTags}); err != nil {
			return nil, fmt.Errorf("updating Auto Scaling Group (%s) tags: %w", id, err)
		}
	}
	// instance_refresh: a launch template change rolls the instances with the configured
	// strategy and preferences (group.go expandStartInstanceRefreshInput).
	if ir := getObj(news, "instanceRefresh"); ir != nil && in.LaunchTemplate != nil {
		if _, err := c.AutoScaling.StartInstanceRefresh(ctx, instanceRefreshInput(id, ir)); err != nil {
			return nil, fmt.Errorf("starting Auto Scaling Group (%s) instance refresh: %w", id, err)
		}
	}
	if waitCapacity {
		if err := waitForCapacity(ctx, c, id, news); err != nil {
			return nil, err
		}
	}
	return readGroup(ctx, c, id, news)
}

// deleteGroup deletes the group with ForceDelete, which terminates its instances, as the
// real provider does with force_delete (without it, it first drains the group to zero and
// waits); then it waits until the group is gone.
func deleteGroup(ctx context.Context, c *Clients, id string, olds resource.PropertyMap) error {
	g, err := describeGroup(ctx, c, id)
	if err != nil {
		return err
	}
	if g == nil {
		return nil
	}
	if force, _ := getBool(olds, "forceDelete"); !force {
		zero := aws.Int32(0)
		if _, err := c.AutoScaling.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(id), MinSize: zero, MaxSize: zero, DesiredCapacity: zero,
		}); err != nil {
			return fmt.Errorf("draining Auto Scaling Group (%s): %w", id, err)
		}
		if err := waitFor(ctx, "Auto Scaling Group ("+id+") to drain", 10*time.Minute, func() (bool, error) {
			g, err := describeGroup(ctx, c, id)
			return g == nil || len(g.Instances) == 0, err
		}); err != nil {
			return err
		}
	}
	if _, err := c.AutoScaling.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(id), ForceDelete: aws.Bool(true),
	}); err != nil && !strings.Contains(err.Error(), "not found") {
		return fmt.Errorf("deleting Auto Scaling Group (%s): %w", id, err)
	}
	return waitFor(ctx, "Auto Scaling Group ("+id+") delete", 10*time.Minute, func() (bool, error) {
		g, err := describeGroup(ctx, c, id)
		return g == nil, err
	})
}

// instanceRefreshInput is group.go's expandStartInstanceRefreshInput for the preferences the
// schema table lists; min_healthy_percentage defaults to 90 as the schema does.
func instanceRefreshInput(id string, ir resource.PropertyMap) *autoscaling.StartInstanceRefreshInput {
	p := getObj(ir, "preferences")
	prefs := &astypes.RefreshPreferences{MinHealthyPercentage: aws.Int32(90)}
	if n := getInt32(p, "minHealthyPercentage"); n != nil {
		prefs.MinHealthyPercentage = n
	}
	if n := getInt32(p, "maxHealthyPercentage"); n != nil {
		prefs.MaxHealthyPercentage = n
	}
	if s := getStr(p, "instanceWarmup"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			prefs.InstanceWarmup = aws.Int32(int32(n))
		}
	}
	if n := getInt32(p, "checkpointDelay"); n != nil {
		prefs.CheckpointDelay = n
	}
	if v, set := getBool(p, "skipMatching"); set {
		prefs.SkipMatching = aws.Bool(v)
	}
	if v, set := getBool(p, "autoRollback"); set {
		prefs.AutoRollback = aws.Bool(v)
	}
	strategy := getStr(ir, "strategy")
	if strategy == "" {
		strategy = string(astypes.RefreshStrategyRolling)
	}
	return &autoscaling.StartInstanceRefreshInput{AutoScalingGroupName: aws.String(id),
		Strategy: astypes.RefreshStrategy(strategy), Preferences: prefs}
}
