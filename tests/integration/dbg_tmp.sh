source "$(dirname "$0")/netns_env.sh"
start_berthd
export DOCKER_HOST=unix://$SOCK
net_images
dk network create --subnet 10.200.0.0/24 appnet
dk run -d --name db1 --network appnet bb sleep 100
dk network rm appnet
sleep 1
grep -v debug $BERTHD_LOG | tail -20
